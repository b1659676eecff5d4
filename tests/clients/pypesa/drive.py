"""Drives the M-Pesa OpenAPI's own Python SDK (`open_api`: APIContext,
APIMethodType, APIRequest, as published in the unmodified `pypesa` wheel) the
way the OpenAPI portal's Python sample uses it, with only the address, port
and scheme pointed at pesa-sandbox, and prints one JSON line per call.

Standard input is one JSON document:
  {
    "address": "127.0.0.1", "port": 7372, "ssl": false,
    "public_key": "<the portal's Base64 public key>",
    "steps": [
      {"op": "session", "market": "vodacomTZN", "api_key": "..."},
      {"op": "call", "market": "vodacomTZN", "method": "POST",
       "api": "c2bPayment/singleStage/", "parameters": {...}}
    ]
  }
A "session" step exchanges the application's API key for a session id, which
later "call" steps of the same market use as their key (the SDK encrypts it).
A string parameter "$N.field" is replaced by field `field` of step N's body
(a reversal needs an earlier payment's transaction id).

Each output line is {"step", "status", "body"} or, when the SDK raised,
{"step", "error"}.

The vendored wheels beside this file are unpacked into a temporary directory
and put first on the import path: that is all installing a wheel does, and
it keeps the run off the network and off the machine's own packages.
"""

import contextlib
import json
import pathlib
import shutil
import sys
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
SITE = tempfile.mkdtemp(prefix="pypesa-site-")
for wheel in sorted((HERE / "wheels").glob("*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(SITE)
sys.path.insert(0, SITE)

from pypesa.open_api import APIContext, APIMethodType, APIRequest  # noqa: E402

METHODS = {"GET": APIMethodType.GET, "POST": APIMethodType.POST, "PUT": APIMethodType.PUT}


def main():
    plan = json.load(sys.stdin)
    sessions = {}
    bodies = []
    for index, step in enumerate(plan["steps"]):
        market = step["market"]
        # The portal's sample, step by step: a context per call, its key, the
        # published public key, where to send it, the Origin header, the body.
        api_context = APIContext()
        api_context.public_key = plan["public_key"]
        api_context.ssl = plan["ssl"]
        api_context.address = plan["address"]
        api_context.port = plan["port"]
        if step["op"] == "session":
            api_context.api_key = step["api_key"]
            api_context.method_type = APIMethodType.GET
            api_context.path = "/sandbox/ipg/v2/{}/getSession/".format(market)
        else:
            api_context.api_key = sessions[market]
            api_context.method_type = METHODS[step["method"]]
            api_context.path = "/sandbox/ipg/v2/{}/{}".format(market, step["api"])
        api_context.add_header("Origin", "*")
        for key, value in step.get("parameters", {}).items():
            api_context.add_parameter(key, resolve(value, bodies))

        api_request = APIRequest(api_context)
        try:
            # The SDK prints each response; keep standard output for the results.
            with contextlib.redirect_stdout(sys.stderr):
                result = api_request.execute()
        except Exception as e:  # the sample prints the failure and goes on
            line = {"step": index, "error": "{}: {}".format(type(e).__name__, e)}
            bodies.append({})
        else:
            if result is None:
                line = {"step": index, "error": "no response (connection failed)"}
                bodies.append({})
            else:
                line = {"step": index, "status": result.status_code, "body": result.body}
                bodies.append(result.body)
                if step["op"] == "session" and "output_SessionID" in result.body:
                    sessions[market] = result.body["output_SessionID"]
        print(json.dumps(line), flush=True)


def resolve(value, bodies):
    if isinstance(value, str) and value.startswith("$") and "." in value:
        step, field = value[1:].split(".", 1)
        return bodies[int(step)].get(field, "")
    return value


try:
    main()
finally:
    shutil.rmtree(SITE, ignore_errors=True)

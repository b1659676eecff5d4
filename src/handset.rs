//! What a customer does with an M-Pesa payment prompt on their phone.
//!
//! Every provider that pushes a prompt to a handset (Daraja's M-Pesa
//! Express, Pesaflow's `sendSTK`) lets a test answer it through its admin
//! view with the same four actions, and each action ends the payment with
//! the same M-Pesa result code whichever provider asked.

/// How someone answers a pending prompt through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PromptAnswer {
    /// Enters the right PIN: the payment goes through (if the wallet allows).
    Pay,
    /// Enters a wrong PIN (2001).
    WrongPin,
    /// Presses cancel (1032).
    Cancel,
    /// Lets the prompt time out (1037).
    Timeout,
}

impl PromptAnswer {
    /// Reads an admin body's `action`; the error says which actions exist.
    pub(crate) fn parse(action: &str) -> Result<PromptAnswer, String> {
        match action {
            "pay" => Ok(PromptAnswer::Pay),
            "wrong_pin" => Ok(PromptAnswer::WrongPin),
            "cancel" => Ok(PromptAnswer::Cancel),
            "timeout" => Ok(PromptAnswer::Timeout),
            _ => Err(format!("action {action:?} is not one of \"pay\", \"wrong_pin\", \"cancel\", \"timeout\"")),
        }
    }

    /// The M-Pesa result code the payment ends with.
    pub(crate) fn result_code(self) -> u32 {
        match self {
            PromptAnswer::Pay => 0,
            PromptAnswer::WrongPin => 2001,
            PromptAnswer::Cancel => 1032,
            PromptAnswer::Timeout => 1037,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_ends_with_its_mpesa_result_code() {
        let code = |action| PromptAnswer::parse(action).map(PromptAnswer::result_code);
        assert_eq!(code("pay"), Ok(0));
        assert_eq!(code("wrong_pin"), Ok(2001));
        assert_eq!(code("cancel"), Ok(1032));
        assert_eq!(code("timeout"), Ok(1037));
    }

    #[test]
    fn an_unknown_action_is_refused_with_the_actions_that_exist() {
        let error = PromptAnswer::parse("maybe").unwrap_err();
        assert_eq!(error, r#"action "maybe" is not one of "pay", "wrong_pin", "cancel", "timeout""#);
    }
}

//! Pub/sub publishing (subscriptions are streams over SSE, see `subscribe`).

use crate::{Command, ToArgs};

commands! {
    /// `PUBLISH channel message`: how many subscribers received the message.
    fn publish(channel: impl ToArgs, message: impl ToArgs) -> u64 =>
        Command::new("PUBLISH").arg(channel).arg(message);
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};

    #[test]
    fn arguments() {
        assert_eq!(argv(client().publish("ch", "hi")), ["PUBLISH", "ch", "hi"]);
    }
}

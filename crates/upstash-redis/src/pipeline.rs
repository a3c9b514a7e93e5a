//! Explicit pipelines (`/pipeline`) and transactions (`/multi-exec`).

use crate::{Command, Error, FromValue, Redis, Result, Value};

/// A batch of commands sent in one request.
///
/// Built by [`Redis::pipeline`] (commands run in order, not atomically) or [`Redis::multi`]
/// (commands run as one `MULTI`/`EXEC` transaction). Add commands with the same typed methods
/// as on [`Redis`], then [`Pipeline::exec`] decodes all results at once, typically into a tuple:
///
/// ```no_run
/// # async fn demo(redis: upstash_redis::Redis) -> upstash_redis::Result<()> {
/// let mut p = redis.pipeline();
/// p.set("a", 1).incr("a").get("a");
/// let (_, n, a): ((), i64, String) = p.exec().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a pipeline does nothing until exec is awaited"]
pub struct Pipeline {
    client: Redis,
    commands: Vec<Command>,
    transaction: bool,
}

impl Redis {
    /// Starts a pipeline: commands run in order, other clients' commands may interleave.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            client: self.clone(),
            commands: Vec::new(),
            transaction: false,
        }
    }

    /// Starts a transaction: commands run atomically (`MULTI` ... `EXEC`).
    pub fn multi(&self) -> Pipeline {
        Pipeline {
            client: self.clone(),
            commands: Vec::new(),
            transaction: true,
        }
    }
}

impl Pipeline {
    /// Adds a prepared command.
    pub fn push(&mut self, command: Command) -> &mut Self {
        self.commands.push(command);
        self
    }

    /// Adds a command of any name with its arguments.
    pub fn cmd(&mut self, name: &str, args: impl crate::ToArgs) -> &mut Self {
        self.push(Command::from_name(name).arg(args))
    }

    /// Number of commands added.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether no command was added.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Whether this is a transaction.
    pub fn is_transaction(&self) -> bool {
        self.transaction
    }

    /// Sends the batch and decodes the results as `T` (a tuple, a `Vec`, or `Value`). Fails
    /// with [`Error::Pipeline`] naming the first command that failed.
    pub async fn exec<T: FromValue>(&self) -> Result<T> {
        let mut values = Vec::with_capacity(self.commands.len());
        for (index, result) in self.exec_keep_errors().await?.into_iter().enumerate() {
            match result {
                Ok(value) => values.push(value),
                Err(source) => {
                    return Err(Error::Pipeline {
                        index,
                        source: Box::new(source),
                    })
                }
            }
        }
        T::from_value(Value::Array(values))
    }

    /// Sends the batch and returns every command's own result.
    pub async fn exec_keep_errors(&self) -> Result<Vec<Result<Value>>> {
        if self.commands.is_empty() {
            return Err(Error::InvalidArgument("the pipeline is empty".into()));
        }
        self.client
            .send_batch(&self.commands, self.transaction)
            .await
    }
}

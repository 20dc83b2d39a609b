//! `fastvm run CMD...`: a throwaway VM for one command.

use std::io::IsTerminal as _;

use clap::Args;
use tokio::sync::watch;

use super::exec::{CommandArgs, build_command, stream_command};
use super::vm::{LaunchOpts, print_launch_warnings};
use super::{CliError, Ctx, Result};

/// Exit status after Ctrl-C, as shells report a SIGINT death (128 + 2).
pub const EXIT_INTERRUPTED: u8 = 130;

/// `run` arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
The VM is deleted when the command ends, when anything fails after the launch, and on Ctrl-C
(press it twice to stop waiting for the deletion). One argument is a shell line (`sh -c`),
several an argv. Exit status: the command's (137 when --timeout killed it), 130 after Ctrl-C,
1 when launching, running or deleting failed.

Examples:
  fastvm run 'uname -a; nproc'
  fastvm run -m c2m4 --timeout 600 -- make -j2 test")]
pub struct RunArgs {
    #[command(flatten)]
    pub launch: LaunchOpts,
    #[command(flatten)]
    pub command: CommandArgs,
}

/// Runs `run`.
pub async fn run(ctx: &Ctx, a: RunArgs) -> Result {
    let command = build_command(a.command)?;
    let interrupts = listen_for_ctrl_c();
    let mut first = interrupts.clone();

    // The launch request itself is not raced against Ctrl-C: dropping it midway could leave a
    // VM whose id we never learn (its safety TTL would delete it, but only after minutes). It
    // is one short request; an interrupt is acted on after it. From here on the VM is owned:
    // whatever happens below, it is deleted (the guard's drop deletes it, waiting for the
    // delete, if this function ends early).
    let mut vm = ctx.client.launch_vm(a.launch.params()).no_wait().await?;
    let id = vm.id().to_string();
    if std::io::stderr().is_terminal() && !ctx.json {
        eprintln!("fastvm: launched VM {id}");
    }
    // As `vm launch` does: the command may rely on services the restore could not re-register.
    print_launch_warnings(vm.launch_warnings());

    let work = async {
        if vm.state().status != fastvm::types::VmStatus::Running {
            a.launch.wait(ctx.client.wait_for_vm_ready(&id)).await?;
            vm.refresh().await?;
        }
        stream_command(ctx, &id, command).await
    };
    let outcome = tokio::select! {
        biased;
        _ = interrupted(&mut first, 1) => None,
        r = work => Some(r),
    };

    if outcome.is_none() {
        eprintln!("fastvm: interrupted; deleting VM {id} (Ctrl-C again to stop waiting)");
    }
    let mut second = interrupts.clone();
    let deleted = tokio::select! {
        r = vm.delete() => Some(r),
        _ = interrupted(&mut second, 2) => None,
    };
    let delete_error = match deleted {
        Some(Ok(_)) => None,
        Some(Err(e)) => Some(format!("deleting VM {id}: {e}")),
        None => Some(format!("VM {id} may still exist: delete it with `fastvm vm rm {id}`")),
    };

    match (outcome, delete_error) {
        // A VM left behind costs money: that outranks the command's own status.
        (_, Some(msg)) => Err(CliError::Other(msg)),
        (None, None) => Ok(EXIT_INTERRUPTED),
        (Some(r), None) => r,
    }
}

/// Counts Ctrl-C presses from the moment it is called (the handler replaces the default
/// "terminate at once", which would leave the VM running).
pub(super) fn listen_for_ctrl_c() -> watch::Receiver<u32> {
    let (tx, rx) = watch::channel(0u32);
    // Registered here, synchronously: `tokio::signal::ctrl_c` would only register when the
    // spawned task is first polled, and a Ctrl-C before that would kill the process.
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(mut sigint) => {
            tokio::spawn(async move {
                while sigint.recv().await.is_some() {
                    tx.send_modify(|n| *n += 1);
                }
            });
        }
        Err(e) => eprintln!("fastvm: cannot catch Ctrl-C ({e}); an interrupt may leave the VM running"),
    }
    // The same on Windows (Tokio's signals exist on Unix and Windows only): `windows::ctrl_c`
    // installs the console handler at once.
    #[cfg(windows)]
    match tokio::signal::windows::ctrl_c() {
        Ok(mut ctrl_c) => {
            tokio::spawn(async move {
                while ctrl_c.recv().await.is_some() {
                    tx.send_modify(|n| *n += 1);
                }
            });
        }
        Err(e) => eprintln!("fastvm: cannot catch Ctrl-C ({e}); an interrupt may leave the VM running"),
    }
    rx
}

/// Resolves once at least `n` Ctrl-C presses were seen; never if signals are unavailable.
pub(super) async fn interrupted(rx: &mut watch::Receiver<u32>, n: u32) {
    if rx.wait_for(|&count| count >= n).await.is_err() {
        std::future::pending::<()>().await;
    }
}

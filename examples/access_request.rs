//! Sends one RADIUS Access-Request, as NetScaler does, and prints the verified reply: a minimal RADIUS client
//! built on `motpd::radius`.
//!
//! ```text
//! cargo run --example access_request -- --server 127.0.0.1:1812 --secret testing123-long-secret \
//!     --user alice --password Nurse2024123456
//! ```
//!
//! The request carries a Message-Authenticator; the reply is accepted only if its Response Authenticator and
//! Message-Authenticator verify (a reply without Message-Authenticator is refused: BlastRADIUS, CVE-2024-3596).
//! It prints the code, the Reply-Message and the State (hex). To answer an Access-Challenge, run it again with
//! the code as `--password` and the printed State as `--state-hex`. Exit status 0 means a verified reply came.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use motpd::radius::{self, Attribute, Code, MessageAuthenticator, types};

/// Send one Access-Request and print the verified reply.
#[derive(Debug, Parser)]
struct Args {
    /// The RADIUS server, e.g. 127.0.0.1:1812.
    #[arg(long)]
    server: SocketAddr,
    /// The shared secret.
    #[arg(long)]
    secret: String,
    /// User-Name.
    #[arg(long)]
    user: String,
    /// User-Password: the password followed by the code (or the code alone, answering a challenge).
    #[arg(long)]
    password: String,
    /// The State of an Access-Challenge being answered, in hex.
    #[arg(long)]
    state_hex: Option<String>,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let secret = args.secret.as_bytes();
    let mut extra = Vec::new();
    if let Some(state) = &args.state_hex {
        let state = hex::decode(state).context("--state-hex is not hex")?;
        extra.push(Attribute::new(types::STATE, state));
    }

    // A fresh random Request Authenticator; the Identifier only has to differ from our other requests in flight.
    let authenticator = radius::random_authenticator()?;
    let identifier = authenticator[0];
    let request = radius::encode_access_request(
        identifier,
        &authenticator,
        args.user.as_bytes(),
        args.password.as_bytes(),
        &extra,
        secret,
    )?;

    let local: SocketAddr = if args.server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(args.server)?; // only datagrams from the server are received
    socket.set_read_timeout(Some(Duration::from_secs(args.timeout)))?;
    socket.send(&request)?;
    let mut buf = [0u8; radius::MAX_PACKET_LEN];
    let len = socket
        .recv(&mut buf)
        .with_context(|| format!("no reply from {} within {} s", args.server, args.timeout))?;

    let reply = radius::verify_response(&buf[..len], &authenticator, secret)
        .context("the reply does not verify (wrong shared secret?)")?;
    if reply.message_authenticator != MessageAuthenticator::Valid {
        bail!("the reply has no Message-Authenticator");
    }
    let packet = reply.packet;
    if packet.identifier() != identifier {
        bail!("the reply answers another request");
    }
    println!("code          {}", name(packet.code()));
    let message: Vec<u8> = packet.reply_messages().flatten().copied().collect();
    if !message.is_empty() {
        println!("Reply-Message {}", String::from_utf8_lossy(&message));
    }
    if let Some(state) = packet.state()? {
        println!("State         {}", hex::encode(state));
    }
    Ok(())
}

fn name(code: Code) -> String {
    match code {
        Code::AccessAccept => "Access-Accept".into(),
        Code::AccessReject => "Access-Reject".into(),
        Code::AccessChallenge => "Access-Challenge".into(),
        other => format!("{other:?}"),
    }
}

//! Whether the kernel's clock is synchronised to a time source (chrony, ntpd, systemd-timesyncd).
//!
//! TOTP and mOTP codes are only as good as the clock: a clock a minute off refuses every code. The kernel keeps
//! the NTP discipline's state; [`read`] asks it with `adjtimex` in read-only mode (no privilege needed), the same
//! call `timedatectl` and `chronyc tracking` rely on.

/// The kernel's view of its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSync {
    /// A time daemon disciplines the clock; `max_error_us` is the kernel's bound on its error.
    Synchronised {
        /// The kernel's maximum error estimate, in microseconds.
        max_error_us: i64,
    },
    /// No time daemon has synchronised the clock (or it lost its source): codes may be refused.
    Unsynchronised,
    /// The state could not be read (not Linux, or the call was refused).
    Unknown,
}

impl ClockSync {
    /// `true` only when the kernel says the clock is synchronised.
    pub fn is_synchronised(self) -> bool {
        matches!(self, Self::Synchronised { .. })
    }

    /// A short word for logs and `motpd config check`: `synchronised`, `unsynchronised` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synchronised { .. } => "synchronised",
            Self::Unsynchronised => "unsynchronised",
            Self::Unknown => "unknown",
        }
    }
}

/// Reads the kernel's synchronisation state now.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn read() -> ClockSync {
    // SAFETY: `timex` is plain data; all-zero (modes = 0) asks adjtimex to read only, and the kernel writes into
    // the struct we own for the duration of the call.
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut timex) };
    if state < 0 {
        return ClockSync::Unknown;
    }
    if state == libc::TIME_ERROR || timex.status & libc::STA_UNSYNC != 0 {
        ClockSync::Unsynchronised
    } else {
        // `c_long` is 32 bits on some targets.
        #[allow(clippy::useless_conversion)]
        ClockSync::Synchronised {
            max_error_us: i64::from(timex.maxerror),
        }
    }
}

/// Reads the kernel's synchronisation state now (not known off Linux).
#[cfg(not(target_os = "linux"))]
pub fn read() -> ClockSync {
    ClockSync::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_answers_with_a_state() {
        // Whatever this machine's daemon does, Linux answers the read-only call.
        let state = read();
        assert_ne!(state, ClockSync::Unknown, "adjtimex(2) read failed");
        assert_eq!(state.is_synchronised(), state.as_str() == "synchronised");
    }
}

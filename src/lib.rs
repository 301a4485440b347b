pub mod otp;

"""The pure coder: text in, CodedEvents out. No Faust, no I/O beyond loading configs once."""

CODER_VERSION = "0.1.0"

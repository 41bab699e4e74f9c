"""Where the sound goes besides the local device: a listener on another
machine (through an SSH tunnel), or a command's standard input.

- `output_spec`: what an `audio.output` value means.
- `link_protocol`: the versioned framing a sender and a listener speak.
- `listener`: the laptop side, which plays what arrives (`tts-tui listen`).
- `clip_output`: what the sender-side outputs share (clips, sinks, kept audio).
- `remote_output`: the sender side, an output the Player uses.
- `pipe_output`: a streamed WAV on a command's standard input.
"""

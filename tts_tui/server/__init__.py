"""The embedded loopback TTS server, speaking with espeak-ng."""

"""Reading an answer: the server's Content-Type and first bytes pick a reader
(`pick`), readers take the body apart (`readers`, `sse`, `events`), decoders
turn audio bytes into frames while they arrive (`decoders`, `layout`), and
`decode.AnswerDecoder` ties them to one exchange."""

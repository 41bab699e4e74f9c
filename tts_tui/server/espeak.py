"""espeak-ng through ctypes, from the ``espeakng-loader`` wheel.

The library and its data come from the wheel, so no system package is needed.
espeak-ng keeps global state and is not thread-safe: every call into it goes
through one process-wide lock, so concurrent callers are served one after the
other. It produces 16-bit mono PCM at the rate ``espeak_Initialize`` returns
(22050 Hz with the bundled data).

Voice names callers may use (case-insensitive):

* a voice id from :func:`list_voices` (``en-us``, ``en-gb``, ``de``, ``fr-fr``...),
  an espeak identifier (``gmw/en-US``), its last part (``en``, ``fr``) or its
  readable name (``English (America)``);
* any of those followed by ``+variant`` from espeak's ``voices/!v`` folder
  (``en-us+f3``, ``de+m2``);
* ``default`` (= ``en-us``) and the OpenAI voice names, so OpenAI clients work
  unchanged (see :data:`OPENAI_VOICES`): alloy, ash, ballad, cedar, coral,
  echo, fable, marin, nova, onyx, sage, shimmer, verse.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tts_tui.core.errors import TtsError

DEFAULT_VOICE = "en-us"
BASE_WPM = 175
MIN_WPM = 80
MAX_WPM = 450

#: OpenAI voice name -> espeak voice. Female OpenAI voices get espeak's female
#: variants, male ones the male variants; fable (British in OpenAI) is en-gb.
OPENAI_VOICES: dict[str, str] = {
    "default": "en-us",
    "alloy": "en-us",
    "ash": "en-us+m2",
    "ballad": "en-gb+m3",
    "cedar": "en-us+m5",
    "coral": "en-us+f2",
    "echo": "en-us+m3",
    "fable": "en-gb",
    "marin": "en-us+f5",
    "nova": "en-us+f3",
    "onyx": "en-us+m1",
    "sage": "en-us+f1",
    "shimmer": "en-us+f4",
    "verse": "en-us+m4",
}

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it espeak may call exit() on a bad data path
_BUFLENGTH_MS = 20
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # priority byte + NUL-terminated language, repeated
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class VoiceNotFound(TtsError):
    """The requested voice is not one espeak-ng can speak with."""


@dataclass
class _Engine:
    lib: ctypes.CDLL
    sample_rate: int
    voices: list[dict[str, str]]
    lookup: dict[str, str]  # lower-cased name -> espeak identifier
    variants: dict[str, str]  # lower-cased variant -> file name
    callback: object = None  # keeps the ctypes callback alive
    on_chunk: Callable[[bytes], bool | None] | None = None
    failure: BaseException | None = None


_LOCK = threading.Lock()
_engine: _Engine | None = None


def _load() -> _Engine:
    try:
        import espeakng_loader

        lib_path = espeakng_loader.get_library_path()
        data_path = espeakng_loader.get_data_path()
        lib = ctypes.CDLL(lib_path)
    except (ImportError, OSError) as exc:
        raise TtsError(
            f"cannot load espeak-ng: {exc}",
            hint="reinstall it with: pip install --force-reinstall espeakng-loader",
        ) from exc
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int

    rate = lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, _BUFLENGTH_MS, data_path.encode(), _INITIALIZE_DONT_EXIT
    )
    if rate <= 0:
        raise TtsError(
            f"espeak-ng failed to start with its data at {data_path}",
            hint="reinstall it with: pip install --force-reinstall espeakng-loader",
        )
    voices, lookup = _read_voices(lib, data_path)
    variants_dir = os.path.join(data_path, "voices", "!v")
    try:
        variants = {name.lower(): name for name in os.listdir(variants_dir)}
    except OSError:
        variants = {}
    engine = _Engine(lib=lib, sample_rate=rate, voices=voices, lookup=lookup, variants=variants)
    engine.callback = _SynthCallback(lambda wav, n, _events: _on_samples(engine, wav, n))
    lib.espeak_SetSynthCallback(engine.callback)
    return engine


def _read_voices(lib: ctypes.CDLL, data_path: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Voices whose dictionary ships in the wheel, and every name they answer to."""
    table = lib.espeak_ListVoices(None)
    voices: list[dict[str, str]] = []
    lookup: dict[str, str] = {}
    i = 0
    while table[i]:
        v = table[i].contents
        i += 1
        identifier = (v.identifier or b"").decode("utf-8", "replace")
        name = (v.name or b"").decode("utf-8", "replace")
        language = ctypes.string_at(v.languages + 1).decode("ascii", "replace").lower()
        # espeak names a voice's dictionary after its language's first part;
        # the wheel leaves a few out, and selecting those prints errors.
        if not os.path.exists(os.path.join(data_path, f"{language.split('-')[0]}_dict")):
            continue
        basename = identifier.rsplit("/", 1)[-1].lower()
        voice_id = language if language not in lookup else basename
        voices.append(
            {
                "id": voice_id,
                "name": name,
                "language": language,
                "identifier": identifier,
                "gender": {1: "male", 2: "female"}.get(v.gender, ""),
            }
        )
        for key in (voice_id, identifier.lower(), name.lower(), basename):
            lookup.setdefault(key, identifier)
    voices.sort(key=lambda voice: voice["id"])
    return voices, lookup


def _on_samples(engine: _Engine, wav: ctypes.c_void_p, n: int) -> int:
    # Runs inside espeak_Synth, on the caller's thread; 1 tells espeak to stop.
    if not wav or n <= 0 or engine.on_chunk is None:
        return 0
    try:
        keep_going = engine.on_chunk(ctypes.string_at(wav, n * 2))
    except BaseException as exc:  # re-raised by synthesize() once espeak returns
        engine.failure = exc
        return 1
    return 1 if keep_going is False else 0


def _get_engine() -> _Engine:
    """The started engine; call with _LOCK held."""
    global _engine
    if _engine is None:
        _engine = _load()
    return _engine


def sample_rate() -> int:
    """The rate (Hz) of the 16-bit mono PCM that :func:`synthesize` produces."""
    engine = _engine
    if engine is not None:  # fixed once started: no need to wait for a synthesis
        return engine.sample_rate
    with _LOCK:
        return _get_engine().sample_rate


def list_voices() -> list[dict[str, str]]:
    """The voices, sorted by id.

    Each dict has ``id`` (what to pass as ``voice``, e.g. ``en-us``), ``name``
    (readable, e.g. ``English (America)``), ``language``, ``identifier`` and
    ``gender`` (``male``, ``female`` or ``""``).
    """
    with _LOCK:
        return [dict(voice) for voice in _get_engine().voices]


def _resolve(engine: _Engine, voice: str) -> str:
    wanted = (voice or "").strip().lower() or DEFAULT_VOICE
    wanted = OPENAI_VOICES.get(wanted, wanted)
    base, _, variant = wanted.partition("+")
    identifier = engine.lookup.get(base.strip())
    if identifier is None:
        raise VoiceNotFound(
            f"unknown voice {voice!r}",
            hint="GET /v1/audio/voices lists them, e.g. en-us, en-gb, de, fr-fr, es",
        )
    if not variant:
        return identifier
    file_name = engine.variants.get(variant.strip())
    if file_name is None:
        raise VoiceNotFound(
            f"unknown voice variant {variant!r} in {voice!r}",
            hint="variants are f1-f5, m1-m8 and the names in espeak's voices/!v folder",
        )
    return f"{identifier}+{file_name}"


def resolve_voice(voice: str) -> str:
    """The espeak voice spec for ``voice``; raises :class:`VoiceNotFound` if unknown."""
    with _LOCK:
        return _resolve(_get_engine(), voice)


def words_per_minute(speed: float) -> int:
    """espeak's rate for a speed factor: 175 wpm x speed, clamped to 80..450."""
    return max(MIN_WPM, min(MAX_WPM, round(BASE_WPM * speed)))


def synthesize(
    text: str,
    voice: str = DEFAULT_VOICE,
    speed: float = 1.0,
    *,
    on_chunk: Callable[[bytes], bool | None],
) -> int:
    """Speak ``text``, handing s16le mono PCM to ``on_chunk`` as espeak makes it.

    ``on_chunk`` runs on the calling thread, with the engine lock held; it
    returning ``False`` stops synthesis early, and an exception it raises stops
    synthesis and is re-raised here. Returns the sample rate of the chunks.
    Raises :class:`VoiceNotFound` for an unknown voice (before any audio) and
    :class:`TtsError` if espeak-ng cannot be loaded or fails.
    """
    encoded = text.replace("\0", " ").encode("utf-8") + b"\0"
    with _LOCK:
        engine = _get_engine()
        spec = _resolve(engine, voice)
        # Set every time (0.1 ms): nothing learnt from the last call can go stale.
        if engine.lib.espeak_SetVoiceByName(spec.encode()) != _EE_OK:
            raise VoiceNotFound(f"espeak-ng cannot load voice {voice!r}")
        engine.lib.espeak_SetParameter(_PARAM_RATE, words_per_minute(speed), 0)
        engine.on_chunk, engine.failure = on_chunk, None
        try:
            status = engine.lib.espeak_Synth(
                encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
        finally:
            engine.on_chunk = None
            failure, engine.failure = engine.failure, None
        if failure is not None:
            raise failure
        if status != _EE_OK:
            raise TtsError(f"espeak-ng failed to synthesize (error {status})")
        return engine.sample_rate

"""BATCH messages (the SDK's `batch_config`): a stream's records go to JSON Lines files, and one
BATCH message per file tells the loader where to read them, instead of one RECORD line each.

Why not the SDK's own batch path (`Stream._sync_batches`): it batches the records as read, before
`_generate_record_messages`, so they would skip the schema's type conformance, the pruning of
deselected properties and the stream maps. Here every RECORD message is made exactly as for the
plain path (the same conformance, the same bytes for the record: RecordLineWriter.record_json);
only where it goes differs.

Nothing lost: a file is closed and its BATCH message written when it holds `batch_size`
records, before any message of another stream or kind (a SCHEMA, an ACTIVATE_VERSION) and when
the sync ends, well or not (`flush`). A STATE that comes while a file is open waits (the latest
one only) and is written right after that file's BATCH message, so it never reaches the loader
before the records it covers, in a file that is complete. (The SDK emits a STATE every few
hundred records; closing a file at each would make files of a few hundred records, and an SDK
loader such as target-postgres loads each file in a transaction of its own: 209 files for 100k
records cost the loader more than RECORD messages, benchmarks/pipeline.py --variants.)

The loader's metadata columns: an SDK loader (target-postgres) fills `_sdc_extracted_at`,
`_sdc_received_at`, `_sdc_batched_at`, `_sdc_sequence`, `_sdc_table_version` and
`_sdc_sync_started_at` for RECORD messages only; rows it reads from a BATCH file get what the
file holds. So each line carries them as the loader would fill them: the record's
time_extracted and version as in its RECORD message, the time the file was opened (received,
batched, and as milliseconds the sequence) and when the tap started (sync started). A loader
without metadata columns ignores them (it loads the columns of its schema).

The files are left for the loader, which reads them after the tap may have exited: the tap
never deletes them (docs/tap.md, "Loading speed", says how to clear the directory).
"""

from __future__ import annotations

import datetime
import gzip
import time
import uuid
from typing import IO, Any

from simplejson.encoder import encode_basestring_ascii
from singer_sdk.singerlib import RecordMessage, StateMessage
from singer_sdk.singerlib.json import serialize_json

from .fast_writer import RecordLineWriter
from .sdk_internals import BatchConfig, SDKBatchMessage

DEFAULT_BATCH_SIZE = 10_000


class BatchFileWriter(RecordLineWriter):
    """RecordLineWriter whose RECORD messages, once `batches` was called, go to files, announced
    by BATCH messages. One instance, switched on rather than swapped in: the SDK hands the tap's
    writer to its STATE writer when the tap starts, and a STATE written past a new writer would
    overtake the records it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.config: BatchConfig | None = None
        self.files_written = 0
        self._state: StateMessage | None = None  # the latest STATE, waiting for the open file
        self._stream: str | None = None
        self._handle: Any = None  # the storage's context manager of the open file
        self._file: IO[bytes] | None = None
        self._url = ""
        self._lines = 0
        self._metadata = ""  # the file's own _sdc_ fields, the same for each of its lines

    def batches(self, config: BatchConfig, tap_name: str) -> None:
        """From now on, RECORD messages go to files as `config` says."""
        self.config = config
        self.tap_name = tap_name
        self.batch_size = config.batch_size or DEFAULT_BATCH_SIZE
        self.gzip = config.encoding.compression == "gzip"
        self.run_id = uuid.uuid4().hex[:12]
        self.started_ms = round(time.time() * 1000)

    def write_message(self, message: Any) -> None:
        if self.config is None:
            super().write_message(message)
            return
        if type(message) is not RecordMessage:
            if type(message) is StateMessage and self._file is not None:
                self._state = message
                return
            self.close_file()
            super().write_message(message)
            return
        if message.stream != self._stream:
            self.close_file()
        if self._file is None:
            self._open(message.stream)
        record = self.record_json(message.record)
        extracted = message.time_extracted
        tail = ',"_sdc_extracted_at":' + (
            encode_basestring_ascii(extracted.isoformat(sep="T"))
            if isinstance(extracted, datetime.datetime)
            else serialize_json(extracted)
        )
        version = message.version
        tail += ',"_sdc_table_version":' + (
            int.__repr__(version) if type(version) is int else serialize_json(version)
        )
        tail += self._metadata
        line = record[:-1] + tail + "}\n" if record != "{}" else "{" + tail[1:] + "}\n"
        self._file.write(line.encode())
        self._lines += 1
        if self._lines >= self.batch_size:
            self.close_file()

    def _open(self, stream: str) -> None:
        assert self.config is not None
        self.files_written += 1
        storage = self.config.storage
        name = f"{storage.prefix or ''}{self.tap_name}--{stream}-{self.run_id}-{self.files_written}"
        name += ".jsonl.gz" if self.gzip else ".jsonl"
        self._handle = storage.open(name, "wb")
        raw = self._handle.__enter__()
        self._file = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if self.gzip else raw
        self._url = storage.get_url(name)
        self._stream, self._lines = stream, 0
        now = datetime.datetime.now(tz=datetime.UTC)
        opened = encode_basestring_ascii(now.isoformat())
        self._metadata = (
            f',"_sdc_received_at":{opened},"_sdc_batched_at":{opened}'
            f',"_sdc_sequence":{round(now.timestamp() * 1000)}'
            f',"_sdc_sync_started_at":{self.started_ms}'
        )

    def close_file(self) -> None:
        """Close the open file (complete on disk), write its BATCH message, then the STATE that
        waited for it."""
        if self._file is None:
            return
        file, handle, self._file, self._handle = self._file, self._handle, None, None
        if file is not handle:
            file.close()  # the gzip stream's end
        handle.__exit__(None, None, None)
        assert self.config is not None
        message = SDKBatchMessage(
            stream=self._stream or "", encoding=self.config.encoding, manifest=[self._url]
        )
        self._stream = None
        super().write_message(message)
        state, self._state = self._state, None
        if state is not None:
            super().write_message(state)
        super().flush()

    def flush(self) -> None:
        self.close_file()
        super().flush()

"""The SDK's Singer reader, minus the traceback it logs for a line that is not JSON: the console
entry point already says so in one line, and a traceback is noise to whoever runs the job."""

from __future__ import annotations

import json

from singer_sdk.singerlib.encoding import SimpleSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json


class QuietSingerReader(SimpleSingerReader):
    def deserialize_json(self, line: str) -> dict:
        try:
            return deserialize_json(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputLine(f"Unable to parse line as JSON: {line}") from exc

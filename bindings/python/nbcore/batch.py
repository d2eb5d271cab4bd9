"""The Batch API: many requests in one job at half the online price, answered within a day.

    from nbcore.batch import BatchClient, BatchRequest
    bc = BatchClient(model="gemini-2.5-flash-image")
    job = bc.submit([BatchRequest("cat", "a cat"), BatchRequest("dog", "a dog", aspect_ratio="16:9")])
    job = bc.wait(job.name)                       # polls with backoff until the job ends
    for entry in bc.results(job.name):            # one per request, in submission order
        if entry.ok:
            entry.result.image.save(f"{entry.key}.png")
        else:
            print(entry.key, entry.error.code, entry.error.advice)

Each entry is decoded, validated and classified exactly as Client.generate() would classify the same
reply: a blocked entry carries the same exception class, reason and advice. Entries are not retried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _nbcore, _quota_options, _result_from
from ._errors import NbcoreError, error_from_info
from ._types import Result

__all__ = ["BatchClient", "BatchRequest", "BatchJob", "BatchEntry", "INLINE_LIMIT_BYTES"]

INLINE_LIMIT_BYTES = 20 * 1024 * 1024   # larger batches go up as a JSONL file (the API's limit)


@dataclass(frozen=True)
class BatchRequest:
    key: str                              # unique in the batch: results come back under it
    prompt: str
    aspect_ratio: Optional[str] = None
    image_size: Optional[str] = None      # "1K", "2K", "4K" (Pro only)
    model: Optional[str] = None           # None: the client's model (one model per batch)
    seed: Optional[int] = None

    def _to_c(self) -> Dict[str, Any]:
        return {"key": self.key, "prompt": self.prompt, "aspect_ratio": self.aspect_ratio,
                "image_size": self.image_size, "model": self.model, "seed": self.seed}


@dataclass(frozen=True)
class BatchJob:
    name: str                             # "batches/<id>"
    state: str                            # PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, EXPIRED
    done: bool
    display_name: str
    model: str
    request_count: int
    succeeded_count: int
    failed_count: int
    pending_count: int
    file_input: bool                      # the requests went up as a JSONL file
    responses_file: str                   # "files/batch-<id>" when results come as a file
    create_time: str
    end_time: str
    error: Optional[NbcoreError] = None   # why a FAILED / CANCELLED / EXPIRED job ended

    @classmethod
    def _from_c(cls, d: Dict[str, Any]) -> "BatchJob":
        err = d.pop("error")
        return cls(**d, error=None if err is None else error_from_info(err))


@dataclass(frozen=True)
class BatchEntry:
    key: str
    result: Optional[Result]              # the images, text and usage when the entry succeeded
    error: Optional[NbcoreError]          # else the same error Client.generate() would raise

    @property
    def ok(self) -> bool:
        return self.error is None




def _ms(seconds: Optional[float], name: str) -> int:
    if seconds is None:
        return 0
    if seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, or None for the default")
    return int(round(seconds * 1000))


class BatchClient:
    """A client for the Batch API (AI Studio keys only).

    Args:
        api_key: default GOOGLE_API_KEY, then GEMINI_API_KEY.
        base_url: another endpoint (e.g. the bundled emulator); default GOOGLE_GEMINI_BASE_URL.
        model: the model of every batch this client submits (default gemini-3-pro-image-preview).
        poll_initial, poll_max: seconds between polls, growing 1.5x from poll_initial to poll_max
            (defaults 2 s and 60 s).
        inline_limit: bytes; a larger batch is uploaded as a JSONL file (default 20 MB).
        budget, state_path, prices: as for Client: a batch's worst case at batch prices is
            reserved before it is created (BudgetError past a cap, nothing sent) and settled
            from its results; share state_path with your clients to share the caps.
    """

    def __init__(self, api_key: Optional[str] = None, base_url: Optional[str] = None,
                 model: Optional[str] = None, poll_initial: Optional[float] = None,
                 poll_max: Optional[float] = None, inline_limit: Optional[int] = None,
                 budget: Optional[Dict[str, Optional[float]]] = None,
                 state_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                 prices: Optional[Union[str, Dict[str, Any]]] = None):
        if api_key is None:
            api_key = (os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY") or "").strip() or None
        self._bc = _nbcore._BatchClient(
            api_key=api_key, base_url=base_url, model=model,
            poll_initial_ms=_ms(poll_initial, "poll_initial"), poll_max_ms=_ms(poll_max, "poll_max"),
            inline_limit_bytes=int(inline_limit or 0),
            quota=_quota_options(None, budget, state_path, prices, None))

    def submit(self, requests: Iterable[BatchRequest], display_name: Optional[str] = None) -> BatchJob:
        """Validate every request and create the job (inline, or through an uploaded JSONL file)."""
        return BatchJob._from_c(self._bc.submit([r._to_c() for r in requests], display_name))

    def get(self, name: str) -> BatchJob:
        return BatchJob._from_c(self._bc.get(name))

    def wait(self, name: str, deadline: Optional[float] = None) -> BatchJob:
        """Poll until the job ends (any end state). deadline: seconds, then DeadlineError (the job
        keeps running on the server)."""
        return BatchJob._from_c(self._bc.wait(name, _ms(deadline, "deadline")))

    def cancel(self, name: str) -> None:
        self._bc.cancel(name)

    def delete(self, name: str) -> None:
        self._bc.delete(name)

    def results(self, name: str) -> List[BatchEntry]:
        """The entries of a SUCCEEDED job, in submission order when this client submitted it. A job
        that ended otherwise raises its error."""
        out = []
        for e in self._bc.results(name):
            out.append(BatchEntry(key=e["key"], result=None if e["result"] is None else _result_from(e["result"]),
                                  error=None if e["error"] is None else error_from_info(e["error"])))
        return out

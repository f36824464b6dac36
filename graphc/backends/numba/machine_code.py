"""Compiled kernels' machine code, kept on disk by graphc and loaded without Numba's start-up.

Loading a function from Numba's own cache makes Numba first build its typing and target
registries (importing SciPy's linear algebra among them): about 0.3 s in every new process,
most of a warm compile. The machine code itself needs none of that. So graphc keeps each
compiled kernel's object code (and the bitcode Numba links with it) in a file of its own,
beside the kernel's source under the same content hash, and a new process hands it straight to
Numba's code generator (LLVM's JIT linker), which gives the kernel's address.

A file is named for the machine and the tools that made it (`host_tag`: CPU name and features,
Numba's and llvmlite's versions): code built for one CPU is never run on another, nor read
by another Numba. A file that cannot be read back (cut short, damaged, another format, copied
under another kernel's name) is ignored and the kernel compiled again: a file names itself and
carries a checksum of its code, both checked before LLVM reads the code (damaged object code
would crash the process rather than raise). The folder's safety is the caller's
(`program.unsafe_reason`): whoever can write machine code there can run it in the next process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import threading
from typing import Any

import llvmlite
import numba
from numba.core.registry import cpu_target
from numba.core.runtime.nrt import rtsys

MAGIC = b"graphc machine code 2\n"


@functools.lru_cache(maxsize=1)
def host_tag() -> str:
    """A short hash of this machine's CPU (name, features) and of Numba's and llvmlite's versions."""
    codegen = cpu_target.target_context.codegen()
    parts = [repr(codegen.magic_tuple()), numba.__version__, llvmlite.__version__]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def path_for(folder: pathlib.Path, name: str) -> pathlib.Path:
    """Where the machine code of kernel module `name` lives in `folder`, for this machine."""
    return folder / f"{name}.{host_tag()}.bin"


def save(path: pathlib.Path, library: Any, symbol: str) -> None:
    """Write `library`'s object code (a Numba CodeLibrary) and the name of the function to call
    in it, with the file's own name and a checksum of the code; atomically, so a reader sees a
    whole file or none."""
    name, kind, (objects, bitcode) = library.serialize_using_object_code()
    assert kind == "object"
    header = json.dumps({"file": path.name, "library": name, "symbol": symbol, "object": len(objects),
                         "bitcode": len(bitcode), "sha256": hashlib.sha256(objects + bitcode).hexdigest()})
    write_atomically(path, MAGIC + header.encode() + b"\n" + objects + bitcode)


def write_atomically(path: pathlib.Path, data: bytes) -> None:
    """`data` as the file `path`, whole or not at all: written beside it, then renamed over it
    (a reader sees the old file or the new one). An OSError (a full disk) leaves no piece behind."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def load(path: pathlib.Path) -> tuple[Any, int] | None:
    """The library and function address kept in `path`, linked into this process; None if there
    is no such file, or it was written for another file name, or its code is not exactly what
    was written (checked before LLVM reads it: damaged object code would crash the process,
    not raise)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(MAGIC):
        return None
    try:
        end = data.index(b"\n", len(MAGIC))
        header = json.loads(data[len(MAGIC):end])
        start = end + 1
        objects = data[start:start + header["object"]]
        bitcode = data[start + header["object"]:start + header["object"] + header["bitcode"]]
        if len(objects) != header["object"] or len(bitcode) != header["bitcode"] or start + len(objects) + len(bitcode) != len(data):
            return None
        if header["file"] != path.name or hashlib.sha256(objects + bitcode).hexdigest() != header["sha256"]:
            return None
        context = cpu_target.target_context
        rtsys.initialize(context)  # the runtime's symbols, which Numba's code may name (cheap, once)
        library = context.codegen().unserialize_library((header["library"], "object", (objects, bitcode)))
        address = library.get_pointer_to_function(header["symbol"])
    except (ValueError, KeyError, TypeError, RuntimeError):
        return None
    return (library, int(address)) if address else None

"""Refusing HDF5 features that make a weights file read something other than itself.

An HDF5 dataset can keep its bytes in other files (external storage, ``external=[...]``), be
assembled from datasets in other files (virtual datasets), and a link can point into another
file (external link) or elsewhere by path (soft link). Any of them would let a model file make
lenetc read a host file the user never named (``/etc/passwd`` as weights), so the whole file is
walked, by link, *before* any object is opened by path (h5py's ``in`` and ``get`` resolve
external links), and every such feature is refused. Filters HDF5 would load a plugin for are
refused too: only the built-in ones run.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import LenetcError
from ..names import shown

#: Most links walked in one file: Keras LeNets have a few dozen; a cap keeps a file of a
#: million empty groups from costing minutes.
MAX_HDF5_OBJECTS = 10_000


def _builtin_filters(h5py) -> set[int]:
    z = h5py.h5z
    ids = {z.FILTER_DEFLATE, z.FILTER_SHUFFLE, z.FILTER_FLETCHER32, z.FILTER_NBIT, z.FILTER_SCALEOFFSET}
    lzf = getattr(z, "FILTER_LZF", None)  # shipped inside h5py, no plugin
    return ids | ({lzf} if lzf is not None else set())


def _check_dataset(h5py, dataset, where: str, source: Path) -> None:
    plist = dataset.id.get_create_plist()
    layout = plist.get_layout()
    d = h5py.h5d
    if layout == getattr(d, "VIRTUAL", -1):
        raise LenetcError(f"'{source}': dataset {shown(where)} is a virtual dataset (reads other files); refused")
    if layout not in (d.COMPACT, d.CONTIGUOUS, d.CHUNKED):
        raise LenetcError(f"'{source}': dataset {shown(where)} has an unknown storage layout {layout}; refused")
    if plist.get_external_count() > 0:
        raise LenetcError(
            f"'{source}': dataset {shown(where)} keeps its data in an external file; refused "
            "(weights must be stored inside the model file)"
        )
    allowed = _builtin_filters(h5py)
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in allowed:
            raise LenetcError(
                f"'{source}': dataset {shown(where)} uses HDF5 filter {code}, not a built-in one; refused"
            )


def check_hdf5(h5py, root, source: Path) -> None:
    """Walk every link of the open file ``root``; raise LenetcError on a soft or external link,
    a virtual or externally stored dataset, or a plugin filter."""
    stack = [root]
    seen: set = set()
    count = 0
    while stack:
        group = stack.pop()
        base = group.name.rstrip("/")
        for key in group:  # names only: iterating does not follow links
            count += 1
            if count > MAX_HDF5_OBJECTS:
                raise LenetcError(f"'{source}' holds more than {MAX_HDF5_OBJECTS:,} HDF5 objects")
            where = f"{base}/{key}"
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise LenetcError(f"'{source}': {shown(where)} is an external link into another file; refused")
            if isinstance(link, h5py.SoftLink):
                raise LenetcError(f"'{source}': {shown(where)} is a soft link; refused (only plain objects are read)")
            if not isinstance(link, h5py.HardLink):
                raise LenetcError(f"'{source}': {shown(where)} is a user-defined HDF5 link; refused")
            obj = group[key]
            if obj.id in seen:  # a second hard link to an object already checked
                continue
            seen.add(obj.id)
            if isinstance(obj, h5py.Group):
                stack.append(obj)
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(h5py, obj, where, source)

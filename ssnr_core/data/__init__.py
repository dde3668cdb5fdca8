"""Data: the pinned public files (bundled xz copies, or the user's data folder, always
checked against their SHA-256), their downloads (`fetch`) and the one-time import of
an official NAS-Bench-201 file (`nb201_import`).

The bottom floor: imports nothing else of the project. The bundled files live in this
folder too (`nasbench201/`, `naslib_zc/`; sources and licences in README.md).
"""

from ssnr_core.data.fetch import FetchError, RemoteFile
from ssnr_core.data.pinned import BUNDLED, DataError, DataFile, read_bytes

__all__ = ["BUNDLED", "DataError", "DataFile", "FetchError", "RemoteFile", "read_bytes"]

"""Legacy parameter dictionary (api spec §2.5); the same objects as the library's."""

from ptychopinn_plugin.config.legacy_params import (  # noqa: F401
    cfg,
    get,
    get_bigN,
    get_padded_size,
    get_padding_size,
    is_sealed,
    params,
    reset,
    seal,
    set,
    unseal,
)

"""Where a run happened: git commit, package and library versions, platform (shared with training, in
`variformer._provenance`)."""

from .._provenance import PACKAGES, git_state, platform_info, versions

__all__ = ["PACKAGES", "versions", "git_state", "platform_info"]

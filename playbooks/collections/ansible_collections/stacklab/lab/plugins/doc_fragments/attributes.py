# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the collection's modules."""

from __future__ import annotations


class ModuleDocFragment:
    """`extends_documentation_fragment: [stacklab.lab.attributes]`: the module
    reports what it would change in check mode and shows it as a diff."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

    # `stacklab.lab.attributes.read_only`: the module reads and reports, so check
    # mode runs it as is and there is no change to show as a diff
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

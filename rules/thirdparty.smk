# Third-party code that is not a package (InternVL's training and evaluation scripts, EasyAnimate),
# fetched at the commit its model family pins (juicer_sandbox/families) and recorded:
#   snakemake -c1 .thirdparty/internvl.fetched.json        # -> .thirdparty/internvl/ at the pinned commit
# The record (repo, commit, the HEAD it verified) is the rule's output, so a rule may take it as input.
# Also: `juicer-sandbox code fetch <family> [--dest DIR]` (the same function). Needs git and the network.
from juicer_sandbox.families import families as _families
from juicer_sandbox.families.code import RECORD_SUFFIX as _RECORD_SUFFIX, fetch_family as _fetch_family

_CODE_FAMILIES = [name for name, fam in _families().items() if fam.code]


rule fetch_code:
    """A family's third-party code at its pinned commit, and the record of what was checked out."""
    output:
        record=f".thirdparty/{{family}}{_RECORD_SUFFIX}",
    log:
        ".thirdparty/{family}.fetch.log",
    wildcard_constraints:
        family="|".join(_CODE_FAMILIES) or "no-family",
    localrule: True
    run:
        _fetch_family(_families()[wildcards.family], f".thirdparty/{wildcards.family}", output.record, log[0])

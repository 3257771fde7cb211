"""lib/ed25519 in constant time: public_key and sign run under valgrind
memcheck with the seeds marked undefined (lib/ed25519/ct/ct_check.c); any
branch or memory index that depends on the seed, the secret scalar or the
nonce is an error. Three builds (-O2 and -Os with 64-bit limbs, -O2 with
the 32-bit limbs the boards use) and two negative controls (a secret
branch, a secret table index) that must be caught, so this test can fail."""

import os

import ct_valgrind
from ed25519_support import REPO, make

built, test_no_secret_dependent_branch_or_index, test_negative_controls_are_caught = ct_valgrind.tests(
    make, "ed25519-ct-build", os.path.join(REPO, "build", "ed25519", "ct"))

"""lib/p256 in constant time: sign, ECDH, keygen and public_key run under
valgrind memcheck with the secrets marked undefined (lib/p256/ct/ct_check.c);
any branch or memory index that depends on a secret is an error. Three
builds are checked (-O2 and -Os with 64-bit limbs, -O2 with the 32-bit limbs
the boards use), and two negative controls (a secret branch, a secret table
index) must be caught, so this test can fail."""

import os

import ct_valgrind
from p256_support import REPO, make

built, test_no_secret_dependent_branch_or_index, test_negative_controls_are_caught = ct_valgrind.tests(
    make, "p256-ct-build", os.path.join(REPO, "build", "ct"))

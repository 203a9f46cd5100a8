# The R package (r-package/, DESCRIPTION at the top level): build it with its vignette
# and check it. Included by the top-level Makefile, which runs $(R_TESTS) in `make test`.
#
#   make test-r      R CMD build + R CMD check --no-manual; fails on any ERROR or WARNING
#   make install-r   install the R package into the default R library
#
# Output goes to build/r/ (git-ignored): the tarball, sclstm.Rcheck/ and check.log.

R_TESTS += test-r
R_BUILD_DIR := build/r
R_PKG_VERSION = $(shell sed -n 's/^Version:[[:space:]]*//p' DESCRIPTION)
R_TARBALL = sclstm_$(R_PKG_VERSION).tar.gz
SCLSTM_DATA ?= $(abspath $(CURDIR)/../shared/data)
# Strict: under make, a missing Python or data folder fails the R tests and the vignette
# instead of skipping them. `make test-r SCLSTM_TEST_STRICT=false` relaxes that.
SCLSTM_TEST_STRICT ?= true
# OMP_NUM_THREADS=1: on a small, busy machine torch's thread pool oversubscribes the
# cores and each fit of these small datasets became 10-50x slower; one thread is fastest.
R_ENV = RETICULATE_PYTHON=$(CURDIR)/$(PY) SCLSTM_DATA=$(SCLSTM_DATA) \
	SCLSTM_TEST_STRICT=$(SCLSTM_TEST_STRICT) OMP_NUM_THREADS=1 \
	_R_CHECK_FORCE_SUGGESTS_=false

.PHONY: test-r install-r

test-r: venv-r
	rm -rf $(R_BUILD_DIR) && mkdir -p $(R_BUILD_DIR)
	cd $(R_BUILD_DIR) && $(R_ENV) R CMD build $(CURDIR)/r-package
	cd $(R_BUILD_DIR) && $(R_ENV) R CMD check --no-manual --no-build-vignettes \
		$(R_TARBALL) 2>&1 | tee check.log
	@status=$$(grep '^Status:' $(R_BUILD_DIR)/sclstm.Rcheck/00check.log); \
	echo "R CMD check: $$status"; \
	case "$$status" in *ERROR*|*WARNING*) \
		echo "R CMD check found errors or warnings: see $(R_BUILD_DIR)/sclstm.Rcheck/"; \
		exit 1;; esac

install-r: venv-r
	R CMD INSTALL r-package

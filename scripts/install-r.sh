#!/usr/bin/env bash
# Install Debian's R and the R packages sclstm's R side and rpy2 converters need.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
PKGS="r-base-core r-base-dev r-cran-reticulate r-bioc-singlecellexperiment r-cran-seurat
r-cran-seuratobject r-cran-testthat r-cran-knitr r-cran-rmarkdown r-bioc-biocstyle r-bioc-bluster
r-cran-jsonlite r-cran-matrix"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
echo "installing R packages from Debian:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null

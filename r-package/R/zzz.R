.onLoad <- function(libname, pkgname) {
    # Nothing is imported here. Registering 'sclstm' as a delay-loaded module tells
    # reticulate's discovery (used when neither RETICULATE_PYTHON nor SCLSTM_PYTHON is
    # set) to prefer a Python where it is installed.
    if (!nzchar(Sys.getenv("RETICULATE_PYTHON")) && !nzchar(Sys.getenv("SCLSTM_PYTHON"))) {
        try(reticulate::import("sclstm", delay_load = TRUE), silent = TRUE)
    }
    invisible(NULL)
}

library(testthat)
library(sclstm)

test_check("sclstm")

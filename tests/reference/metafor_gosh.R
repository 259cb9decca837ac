# GOSH reference values from metafor (Rscript tests/reference/metafor_gosh.R -> metafor_gosh.json).
suppressPackageStartupMessages({ library(metafor); library(metadat); library(jsonlite) })
args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_gosh.json")
CONTROL <- "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)[1:8, ]
cases <- list()
for (m in c("DL", "REML")) {
  res <- rma(bcg$yi, bcg$vi, method = m, control = eval(parse(text = CONTROL)))
  g <- suppressWarnings(gosh(res, progbar = FALSE))
  cases[[length(cases) + 1]] <- list(
    dataset = "dat.bcg[1:8]", method = m, yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi),
    call = sprintf('gosh(rma(yi, vi, method="%s", control=%s))', m, CONTROL),
    members = apply(g$incl, 1, function(r) paste(as.integer(r), collapse = "")),
    k = g$res$k, q = g$res$QE, i2 = g$res$I2, h2 = g$res$H2, tau2 = g$res$tau2, estimate = g$res$estimate)
}
writeLines(toJSON(list(metafor_version = as.character(packageVersion("metafor")), r_version = R.version.string,
                       cases = cases), auto_unbox = TRUE, digits = NA, pretty = FALSE), out_path)
cat("wrote", out_path, "\n")

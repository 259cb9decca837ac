# Reference values from metafor for tpmeta's influence diagnostics and small-study methods.
#
#   Rscript tests/reference/metafor_bias.R
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite.
# Writes tests/reference/metafor_bias.json, read by tests/test_influence.py and tests/test_smallstudy.py
# (the tests never need R).
#
# As in metafor_reference.R, convergence controls are tightened from metafor's defaults so that the
# reference values are accurate to ~1e-10; the exact call is stored with every case. trimfill() does
# not pass the model's control on to its internal fits, so the control is given to trimfill() itself
# (its `...` reach every internal rma.uni() call: the side-selection regression, the iterations and the
# refit of the filled data).

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_bias.json")

CONTROL <- "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
ctrl <- eval(parse(text = CONTROL))
num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)

# ---- datasets (escalc as in metafor_reference.R) ---------------------------------------------------
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
normand <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i,
                  m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
egger01 <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)

sets <- list(
  dat.bcg = list(prep = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
                 yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi),
                 labels = paste(dat.bcg$author, dat.bcg$year)),
  dat.normand1999 = list(prep = 'escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)',
                         yi = as.numeric(normand$yi), vi = as.numeric(normand$vi),
                         labels = as.character(dat.normand1999$source)),
  dat.hackshaw1998 = list(prep = "dat.hackshaw1998 (columns yi, vi)",
                          yi = dat.hackshaw1998$yi, vi = dat.hackshaw1998$vi,
                          labels = paste(dat.hackshaw1998$author, dat.hackshaw1998$year)),
  dat.raudenbush1985 = list(prep = "dat.raudenbush1985 (columns yi, vi)",
                            yi = dat.raudenbush1985$yi, vi = dat.raudenbush1985$vi,
                            labels = paste(dat.raudenbush1985$author, dat.raudenbush1985$year)),
  dat.egger2001 = list(prep = 'escalc(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.egger2001)',
                       yi = as.numeric(egger01$yi), vi = as.numeric(egger01$vi),
                       labels = paste(dat.egger2001$study, dat.egger2001$year))
)
data_out <- lapply(names(sets), function(n) list(dataset = n, preparation = sets[[n]]$prep,
                                                  yi = sets[[n]]$yi, vi = sets[[n]]$vi,
                                                  labels = sets[[n]]$labels))

# (metafor warns that Knapp-Hartung is not meant for FE models; the FE/knha cases are kept because
# tpmeta allows the combination and influence() is defined for it)
fit <- function(ds, method, test = "z") {
  suppressWarnings(rma(ds$yi, ds$vi, method = method, test = test, control = ctrl))
}

# ---- influence() and baujat() -----------------------------------------------------------------------
INF_SETS <- c("dat.bcg", "dat.normand1999")
INF_METHODS <- c("FE", "DL", "REML")
INF_TESTS <- c("z", "knha", "knha_adhoc")
# tpmeta name -> metafor 3.8.1 name (the Knapp-Hartung ad hoc correction is test="adhoc" in rma.uni)
R_TEST <- c(z = "z", knha = "knha", knha_adhoc = "adhoc")
influence_cases <- list()
baujat_cases <- list()
for (d in INF_SETS) for (m in INF_METHODS) for (t in INF_TESTS) {
  res <- fit(sets[[d]], m, R_TEST[[t]])
  model_call <- sprintf('rma(yi, vi, method="%s", test="%s", control=%s)', m, R_TEST[[t]], CONTROL)
  inf <- influence(res)
  influence_cases[[length(influence_cases) + 1]] <- list(
    dataset = d, method = m, test = t, call = sprintf("influence(%s)", model_call),
    expected = list(
      rstudent = as.numeric(inf$inf$rstudent), dffits = as.numeric(inf$inf$dffits),
      cook_d = as.numeric(inf$inf$cook.d), cov_r = as.numeric(inf$inf$cov.r),
      tau2_del = as.numeric(inf$inf$tau2.del), qe_del = as.numeric(inf$inf$QE.del),
      hat = as.numeric(inf$inf$hat), weight = as.numeric(inf$inf$weight),
      dfbetas = as.numeric(inf$dfbs$intrcpt), inf = as.logical(inf$is.infl)
    )
  )
  pdf(NULL)
  bj <- baujat(res)
  invisible(dev.off())
  baujat_cases[[length(baujat_cases) + 1]] <- list(
    dataset = d, method = m, test = t, call = sprintf("baujat(%s)", model_call),
    expected = list(x = as.numeric(bj$x), y = as.numeric(bj$y))
  )
}

# ---- trimfill() ---------------------------------------------------------------------------------------
TF_SETS <- c("dat.bcg", "dat.hackshaw1998", "dat.raudenbush1985", "dat.egger2001", "dat.normand1999")
TF_METHODS <- c("FE", "DL", "REML")
TF_ESTIMATORS <- c("L0", "R0")
tf_case <- function(d, m, e, side = NULL) {
  res <- fit(sets[[d]], m)
  side_txt <- if (is.null(side)) "" else sprintf(', side="%s"', side)
  call <- sprintf('trimfill(rma(yi, vi, method="%s", control=%s), estimator="%s"%s, control=%s)',
                  m, CONTROL, e, side_txt, CONTROL)
  tf <- if (is.null(side)) trimfill(res, estimator = e, control = ctrl)
        else trimfill(res, estimator = e, side = side, control = ctrl)
  filled <- tf$fill
  list(
    dataset = d, method = m, estimator = e, side_argument = if (is.null(side)) NA else side,
    call = call,
    expected = list(
      side = tf$side, k0 = tf$k0, se_k0 = num(tf$se.k0), p_k0 = num(tf$p.k0),
      imputed_yi = as.numeric(tf$yi[filled]), imputed_vi = as.numeric(tf$vi[filled]),
      estimate = num(tf$beta), se = num(tf$se), statistic = num(tf$zval), pvalue = num(tf$pval),
      ci_low = num(tf$ci.lb), ci_high = num(tf$ci.ub), tau2 = num(tf$tau2), q = num(tf$QE),
      k = tf$k
    )
  )
}
trimfill_cases <- list()
for (d in TF_SETS) for (m in TF_METHODS) for (e in TF_ESTIMATORS) {
  trimfill_cases[[length(trimfill_cases) + 1]] <- tf_case(d, m, e)
}
# the side given explicitly (opposite to the automatic choice)
forced <- list(list("dat.bcg", "left"), list("dat.hackshaw1998", "right"))
for (f in forced) for (e in TF_ESTIMATORS) {
  trimfill_cases[[length(trimfill_cases) + 1]] <- tf_case(f[[1]], "REML", e, f[[2]])
}

# The regression trimfill() uses to choose the side: rma.uni(yi, vi, mods = sqrt(vi), method = <model's>)
ALL_METHODS <- c("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")
side_cases <- list()
for (d in TF_SETS) for (m in ALL_METHODS) {
  ds <- sets[[d]]
  r <- suppressWarnings(rma(ds$yi, ds$vi, mods = ~ sqrt(ds$vi), method = m, control = ctrl))
  side_cases[[length(side_cases) + 1]] <- list(
    dataset = d, method = m,
    call = sprintf('rma(yi, vi, mods=~sqrt(vi), method="%s", control=%s)', m, CONTROL),
    expected = list(intercept = num(r$beta[1]), slope = num(r$beta[2]), tau2 = num(r$tau2))
  )
}

# ---- PET and PEESE ------------------------------------------------------------------------------------
# Weighted least squares with a free (multiplicative) dispersion, as lm(); rma(method="FE") gives the
# same coefficients, with standard errors that assume dispersion 1 (stored to document the difference).
coef_list <- function(fit_lm) {
  s <- summary(fit_lm)$coefficients
  list(intercept = s[1, 1], intercept_se = s[1, 2], intercept_t = s[1, 3], intercept_p = s[1, 4],
       slope = s[2, 1], slope_se = s[2, 2], slope_t = s[2, 3], slope_p = s[2, 4],
       df = fit_lm$df.residual, sigma = summary(fit_lm)$sigma)
}
pet_cases <- list()
for (d in TF_SETS) {
  ds <- data.frame(yi = sets[[d]]$yi, vi = sets[[d]]$vi)
  ds$sei <- sqrt(ds$vi)
  pet <- lm(yi ~ sei, weights = 1 / vi, data = ds)
  peese <- lm(yi ~ vi, weights = 1 / vi, data = ds)
  pet_fe <- rma(yi, vi, mods = ~ sei, method = "FE", data = ds)
  peese_fe <- rma(yi, vi, mods = ~ vi, method = "FE", data = ds)
  pet_cases[[length(pet_cases) + 1]] <- list(
    dataset = d,
    call = list(pet = "lm(yi ~ sei, weights = 1/vi)", peese = "lm(yi ~ vi, weights = 1/vi)",
                pet_rma = 'rma(yi, vi, mods = ~ sei, method = "FE")',
                peese_rma = 'rma(yi, vi, mods = ~ vi, method = "FE")'),
    pet = coef_list(pet), peese = coef_list(peese),
    pet_rma = list(coef = as.numeric(pet_fe$beta), se = as.numeric(pet_fe$se)),
    peese_rma = list(coef = as.numeric(peese_fe$beta), se = as.numeric(peese_fe$se))
  )
}

out <- list(
  generated_by = "tests/reference/metafor_bias.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  date = as.character(Sys.Date()),
  rma_control = CONTROL,
  grid = list(
    influence = list(datasets = INF_SETS, methods = INF_METHODS, tests = INF_TESTS),
    trimfill = list(datasets = TF_SETS, methods = TF_METHODS, estimators = TF_ESTIMATORS,
                    forced_side = lapply(forced, function(f) list(dataset = f[[1]], side = f[[2]]))),
    side_regression = list(datasets = TF_SETS, methods = ALL_METHODS),
    pet_peese = list(datasets = TF_SETS)
  ),
  datasets = data_out,
  influence = influence_cases,
  baujat = baujat_cases,
  trimfill = trimfill_cases,
  side_regression = side_cases,
  pet_peese = pet_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "with", length(influence_cases), "influence,", length(trimfill_cases),
    "trimfill,", length(side_cases), "side-regression and", length(pet_cases), "PET-PEESE cases\n")

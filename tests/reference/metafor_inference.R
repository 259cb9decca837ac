# Reference values from metafor for tpmeta's inference on fitted models: predict(), blup(), anova()
# (likelihood-ratio tests, Wald tests of coefficients, linear contrasts), confint() for tau^2 (Q-profile
# and profile likelihood), profile() of tau^2, fit statistics and models with a fixed tau^2.
#
#   Rscript tests/reference/metafor_inference.R
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite.
# Writes tests/reference/metafor_inference.json; tests/models/test_inference.py and test_profile.py
# read it and never need R.
#
# Controls: every rma() fit uses CONTROL (threshold/tol 1e-12, as metafor_metareg.R); every confint()
# uses CI_CONTROL (uniroot tol 1e-12; metafor's default is .Machine$double.eps^0.25 ~ 1.2e-4, far too
# loose for a reference). The exact call is stored with every case.
#
# Data (published, from metadat):
#   bcg     dat.bcg: 13 BCG trials, log risk ratios (escalc RR); moderators ablat, year, alloc (factor)
#   raud    dat.raudenbush1985: 19 teacher-expectancy studies (SMD); weeks, and weeks_c = min(weeks, 3)
#           (the usual capped contact variable: with it the REML tau^2 is at the boundary 0)
#   konst   dat.konstantopoulos2011: 56 school studies, analysed single-level (yi, vi); year
#   normand dat.normand1999: 9 stroke-unit studies, raw mean difference of length of stay (escalc MD)

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_inference.json")

CONTROL <- "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
ctrl <- eval(parse(text = CONTROL))
CI_CONTROL <- "list(tol = 1e-12, maxiter = 10000)"
ci_ctrl <- eval(parse(text = CI_CONTROL))

num <- function(x) if (is.null(x) || length(x) == 0 || all(is.na(x))) NA_real_ else as.numeric(x)
nums <- function(x) I(as.numeric(x))  # I(): length-1 vectors stay JSON arrays

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
raud <- dat.raudenbush1985
raud$weeks_c <- ifelse(raud$weeks > 3, 3, raud$weeks)
konst <- dat.konstantopoulos2011
normand <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                  data = dat.normand1999)
DATA <- list(bcg = bcg, raud = raud, konst = konst, normand = normand)
PREP <- list(
  bcg = 'dat <- escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
  raud = 'dat <- dat.raudenbush1985; dat$weeks_c <- ifelse(dat$weeks > 3, 3, dat$weeks)',
  konst = 'dat <- dat.konstantopoulos2011',
  normand = 'dat <- escalc(measure="MD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)'
)
data_out <- list(
  bcg = list(yi = nums(bcg$yi), vi = nums(bcg$vi), ablat = nums(bcg$ablat), year = nums(bcg$year),
             alloc = as.character(bcg$alloc)),
  raud = list(yi = nums(raud$yi), vi = nums(raud$vi), weeks = nums(raud$weeks), weeks_c = nums(raud$weeks_c)),
  konst = list(yi = nums(konst$yi), vi = nums(konst$vi), year = nums(konst$year)),
  normand = list(yi = nums(normand$yi), vi = nums(normand$vi))
)

# A model: dataset, moderator formula (NA: intercept only), method, test, fixed tau2 (NA: estimated).
spec <- function(data, mods = NA, method = "REML", test = "z", tau2 = NA, level = 95) {
  list(data = data, mods = mods, method = method, test = test, tau2 = tau2, level = level)
}
fit_call <- function(s) {
  paste0("rma(yi, vi, ", if (is.na(s$mods)) "" else paste0("mods=", s$mods, ", "), "data=dat, method=\"",
         s$method, "\", test=\"", s$test, "\"", if (is.na(s$tau2)) "" else paste0(", tau2=", s$tau2),
         if (s$level == 95) "" else paste0(", level=", s$level), ", control=", CONTROL, ")")
}
fit <- function(s) {
  a <- list(yi = quote(yi), vi = quote(vi), data = DATA[[s$data]], method = s$method, test = s$test,
            level = s$level, control = ctrl)
  if (!is.na(s$mods)) a$mods <- as.formula(s$mods)
  if (!is.na(s$tau2)) a$tau2 <- s$tau2
  suppressWarnings(do.call(rma, a))
}
columns <- function(s) if (is.na(s$mods)) list() else as.list(all.vars(as.formula(s$mods)))
model_of <- function(s) list(data = s$data, columns = columns(s), mods = s$mods, method = s$method,
                              test = s$test, tau2 = s$tau2, level = s$level / 100)
stats_of <- function(fs) list(ll = fs[1], dev = fs[2], aic = fs[3], bic = fs[4], aicc = fs[5])
fit_summary <- function(res) list(
  names = I(rownames(res$beta)), coef = nums(res$beta), se = nums(res$se), statistic = nums(res$zval),
  pvalue = nums(res$pval), ci_low = nums(res$ci.lb), ci_high = nums(res$ci.ub), tau2 = num(res$tau2),
  qm = num(res$QM), qm_df = num(res$QMdf[1]), qm_df2 = num(res$QMdf[2]), qm_pvalue = num(res$QMp),
  qe = num(res$QE), qe_pvalue = num(res$QEp), i2 = num(res$I2), h2 = num(res$H2), r2 = num(res$R2),
  parms = res$parms, logLik = as.numeric(logLik(res)),
  ml = stats_of(res$fit.stats$ML), reml = stats_of(res$fit.stats$REML)
)

# ---- fit statistics and fixed tau^2 ---------------------------------------------------------------
fit_specs <- list(
  spec("bcg", "~ ablat"), spec("bcg", "~ ablat", "ML"), spec("bcg", "~ ablat + year", "ML"),
  spec("bcg", "~ ablat", "FE"), spec("bcg", "~ alloc", "DL"), spec("normand", NA, "REML"),
  spec("normand", NA, "ML"), spec("raud", "~ weeks_c"), spec("konst", "~ year"),
  spec("bcg", "~ ablat", tau2 = 0.05), spec("bcg", "~ ablat", test = "knha", tau2 = 0.05),
  spec("bcg", "~ ablat + year", "DL", tau2 = 0.1), spec("normand", NA, tau2 = 500),
  spec("konst", "~ year", tau2 = 0), spec("bcg", "~ ablat", test = "adhoc"), spec("konst", "~ year", test = "adhoc")
)
fits <- lapply(fit_specs, function(s) list(model = model_of(s), call = paste(PREP[[s$data]], fit_call(s), sep = "; "),
                                           expected = fit_summary(fit(s))))

# ---- predict() (a FE model has no prediction interval in metafor: pi_low/pi_high are empty) --------
pred_specs <- list(
  list(s = spec("bcg", "~ ablat"), newmods = "c(10, 30, 50)", level = NA),
  list(s = spec("bcg", "~ ablat", test = "knha"), newmods = "c(10, 30, 50)", level = 90),
  list(s = spec("bcg", "~ ablat + year", "DL"), newmods = "rbind(c(30, 1960), c(45, 1975))", level = NA),
  list(s = spec("bcg", "~ ablat"), newmods = NA, level = NA),
  list(s = spec("bcg", "~ ablat", "FE"), newmods = "c(20, 40)", level = NA),
  list(s = spec("bcg", "~ alloc"), newmods = "rbind(c(0, 0), c(1, 0), c(0, 1))", level = NA),
  list(s = spec("bcg", "~ ablat", tau2 = 0.05), newmods = "c(10, 30, 50)", level = NA),
  list(s = spec("normand", NA, test = "knha"), newmods = NA, level = NA),
  list(s = spec("normand", NA), newmods = NA, level = 80)
)
predict_cases <- lapply(pred_specs, function(ps) {
  res <- fit(ps$s)
  a <- list(res)
  if (!is.na(ps$newmods)) a$newmods <- eval(parse(text = ps$newmods))
  if (!is.na(ps$level)) a$level <- ps$level
  pr <- do.call(predict, a)
  list(model = model_of(ps$s), newmods = if (is.na(ps$newmods)) NA else a$newmods,
       level = if (is.na(ps$level)) NA_real_ else ps$level / 100,
       call = paste0(PREP[[ps$s$data]], "; predict(", fit_call(ps$s),
                     if (is.na(ps$newmods)) "" else paste0(", newmods=", ps$newmods),
                     if (is.na(ps$level)) "" else paste0(", level=", ps$level), ")"),
       expected = list(pred = nums(pr$pred), se = nums(pr$se), ci_low = nums(pr$ci.lb),
                       ci_high = nums(pr$ci.ub), pi_low = nums(pr$pi.lb), pi_high = nums(pr$pi.ub)))
})

# ---- blup() ---------------------------------------------------------------------------------------
blup_specs <- list(
  list(s = spec("bcg", "~ ablat"), level = NA), list(s = spec("bcg", "~ ablat", test = "knha"), level = 90),
  list(s = spec("normand", NA), level = NA), list(s = spec("raud", "~ weeks_c"), level = NA),
  list(s = spec("konst", "~ year", "ML"), level = NA), list(s = spec("bcg", "~ ablat", "FE"), level = NA)
)
blup_cases <- lapply(blup_specs, function(bs) {
  res <- fit(bs$s)
  b <- if (is.na(bs$level)) blup(res) else blup(res, level = bs$level)
  list(model = model_of(bs$s), level = if (is.na(bs$level)) NA_real_ else bs$level / 100,
       call = paste0(PREP[[bs$s$data]], "; blup(", fit_call(bs$s),
                     if (is.na(bs$level)) "" else paste0(", level=", bs$level), ")"),
       expected = list(pred = nums(b$pred), se = nums(b$se), pi_low = nums(b$pi.lb), pi_high = nums(b$pi.ub)))
})

# ---- anova(full, reduced): likelihood-ratio tests -------------------------------------------------
lrt_specs <- list(
  list(f = spec("bcg", "~ ablat + year", "ML"), r = spec("bcg", "~ ablat", "ML"), refit = FALSE),
  list(f = spec("bcg", "~ ablat", "ML"), r = spec("bcg", NA, "ML"), refit = FALSE),
  list(f = spec("bcg", "~ ablat"), r = spec("bcg", "~ ablat", "FE"), refit = FALSE),
  list(f = spec("bcg", "~ ablat + year"), r = spec("bcg", "~ ablat"), refit = TRUE),
  list(f = spec("konst", "~ year"), r = spec("konst", "~ year", tau2 = 0), refit = FALSE),
  list(f = spec("raud", "~ weeks_c", "ML"), r = spec("raud", NA, "ML"), refit = FALSE),
  list(f = spec("normand", NA), r = spec("normand", NA, "FE"), refit = FALSE)
)
lrt_cases <- lapply(lrt_specs, function(ls) {
  a <- anova(fit(ls$f), fit(ls$r), refit = ls$refit)
  list(full = model_of(ls$f), reduced = model_of(ls$r), refit = ls$refit,
       call = paste0(PREP[[ls$f$data]], "; anova(", fit_call(ls$f), ", ", fit_call(ls$r),
                     if (ls$refit) ", refit=TRUE" else "", ")"),
       expected = list(full = stats_of(a$fit.stats.f), reduced = stats_of(a$fit.stats.r),
                       parms_full = a$parms.f, parms_reduced = a$parms.r, lrt = a$LRT, pvalue = a$pval,
                       qe_full = a$QE.f, qe_reduced = a$QE.r, tau2_full = a$tau2.f, tau2_reduced = a$tau2.r,
                       r2 = num(a$R2)))
})
# what metafor 3.8.1 does with REML fits of different fixed effects (tpmeta raises an error instead)
reml_warning <- tryCatch({
  anova(fit(spec("bcg", "~ ablat + year")), fit(spec("bcg", "~ ablat"))); ""
}, warning = function(w) conditionMessage(w))

# ---- anova(res, btt=): Wald tests of coefficients -------------------------------------------------
wald_specs <- list(
  list(s = spec("bcg", "~ alloc"), btt = c(2, 3), rhs = NA),
  list(s = spec("bcg", "~ alloc"), btt = 2, rhs = NA),
  list(s = spec("bcg", "~ ablat + year", test = "knha"), btt = 3, rhs = NA),
  list(s = spec("bcg", "~ ablat + year", "FE"), btt = c(1, 3), rhs = NA),
  list(s = spec("bcg", "~ ablat"), btt = 2, rhs = -0.02),
  list(s = spec("bcg", "~ ablat + year", "ML", test = "knha"), btt = c(2, 3), rhs = c(-0.03, 0))
)
wald_cases <- lapply(wald_specs, function(ws) {
  a <- list(fit(ws$s), btt = ws$btt)
  if (!all(is.na(ws$rhs))) a$rhs <- ws$rhs
  w <- do.call(anova, a)
  list(model = model_of(ws$s), btt = I(ws$btt), rhs = if (all(is.na(ws$rhs))) NA else I(ws$rhs),
       call = paste0(PREP[[ws$s$data]], "; anova(", fit_call(ws$s), ", btt=", deparse(ws$btt),
                     if (all(is.na(ws$rhs))) "" else paste0(", rhs=", deparse(ws$rhs)), ")"),
       expected = list(qm = w$QM, qm_df = w$QMdf[1], qm_df2 = num(w$QMdf[2]), qm_pvalue = w$QMp))
})

# ---- anova(res, X=): linear contrasts ------------------------------------------------------------
contrast_specs <- list(
  list(s = spec("bcg", "~ alloc"), X = "rbind(c(0, 1, -1), c(0, 1, 0), c(1, 0, 0))", rhs = NA),
  list(s = spec("bcg", "~ alloc", test = "knha"), X = "rbind(c(0, 1, -1), c(0, 1, 0), c(1, 0, 0))", rhs = NA),
  list(s = spec("bcg", "~ ablat"), X = "rbind(c(1, 10), c(1, 50))", rhs = "c(0, -0.5)"),
  list(s = spec("bcg", "~ alloc", "DL"), X = "rbind(c(0, 1, -1), c(0, 2, -2))", rhs = NA),
  list(s = spec("normand", NA, test = "knha"), X = "rbind(1)", rhs = "10")
)
contrast_cases <- lapply(contrast_specs, function(cs) {
  a <- list(fit(cs$s), X = eval(parse(text = cs$X)))
  if (!is.na(cs$rhs)) a$rhs <- eval(parse(text = cs$rhs))
  w <- do.call(anova, a)
  list(model = model_of(cs$s), X = a$X, rhs = if (is.na(cs$rhs)) NA else I(a$rhs),
       call = paste0(PREP[[cs$s$data]], "; anova(", fit_call(cs$s), ", X=", cs$X,
                     if (is.na(cs$rhs)) "" else paste0(", rhs=", cs$rhs), ")"),
       expected = list(estimate = nums(w$Xb), se = nums(w$se), statistic = nums(w$zval), pvalue = nums(w$pval),
                       qm = num(w$QM), qm_df = num(w$QMdf[1]), qm_df2 = num(w$QMdf[2]), qm_pvalue = num(w$QMp)))
})

# ---- confint(): tau^2, tau, I^2, H^2 by Q-profile and profile likelihood -----------------------------
ci_specs <- list(
  list(s = spec("bcg", "~ ablat"), type = "QP", level = NA),
  list(s = spec("bcg", "~ ablat + year", "DL"), type = "QP", level = NA),
  list(s = spec("bcg", "~ alloc", "PM", test = "knha"), type = "QP", level = 90),
  list(s = spec("raud", "~ weeks_c"), type = "QP", level = NA),
  list(s = spec("konst", "~ year"), type = "QP", level = NA),
  list(s = spec("normand", NA), type = "QP", level = NA),
  list(s = spec("bcg", "~ ablat"), type = "PL", level = NA),
  list(s = spec("bcg", "~ ablat", "ML"), type = "PL", level = NA),
  list(s = spec("bcg", "~ ablat + year"), type = "PL", level = 90),
  list(s = spec("raud", "~ weeks_c"), type = "PL", level = NA),
  list(s = spec("raud", NA), type = "PL", level = NA),
  list(s = spec("konst", "~ year"), type = "PL", level = NA),
  list(s = spec("normand", NA), type = "PL", level = NA),
  list(s = spec("normand", NA, "ML"), type = "PL", level = 99)
)
confint_cases <- lapply(ci_specs, function(cs) {
  res <- fit(cs$s)
  a <- list(res, type = cs$type, control = ci_ctrl)
  if (!is.na(cs$level)) a$level <- cs$level
  ci <- suppressWarnings(do.call(confint, a))$random
  list(model = model_of(cs$s), type = cs$type, level = if (is.na(cs$level)) NA_real_ else cs$level / 100,
       call = paste0(PREP[[cs$s$data]], "; confint(", fit_call(cs$s), ", type=\"", cs$type, "\"",
                     if (is.na(cs$level)) "" else paste0(", level=", cs$level), ", control=", CI_CONTROL, ")"),
       expected = list(tau2 = nums(ci["tau^2", ]), tau = nums(ci["tau", ]), i2 = nums(ci["I^2(%)", ]),
                       h2 = nums(ci["H^2", ])))
})

# The profile-likelihood bounds once more, independently of confint(): uniroot on logLik() of
# rma(..., tau2 = x) (the model refitted at a fixed tau^2) for 2 (logLik(fit) - logLik(x)) = qchisq(.95, 1)
pl_check <- local({
  s <- spec("bcg", "~ ablat")
  res <- fit(s)
  ll_at <- function(t2) as.numeric(logLik(rma(yi, vi, mods = ~ ablat, data = bcg, tau2 = t2, control = ctrl)))
  f <- function(t2) 2 * (as.numeric(logLik(res)) - ll_at(t2)) - qchisq(0.95, 1)
  lo <- uniroot(f, c(0, res$tau2), tol = 1e-14, maxiter = 10000)$root
  hi <- uniroot(f, c(res$tau2, 10), tol = 1e-14, maxiter = 10000)$root
  list(model = model_of(s),
       call = paste0(PREP$bcg, "; res <- ", fit_call(s), "; f <- function(t2) 2*(logLik(res) - logLik(rma(yi, vi, mods=~ablat, data=dat, tau2=t2, control=", CONTROL,
                     "))) - qchisq(.95, 1); uniroot(f, c(0, res$tau2), tol=1e-14); uniroot(f, c(res$tau2, 10), tol=1e-14)"),
       expected = list(tau2_hat = res$tau2, ci_low = lo, ci_high = hi))
})

# ---- profile(): the (restricted) log-likelihood over a grid of tau^2 ---------------------------------
prof_specs <- list(
  list(s = spec("bcg", "~ ablat"), xlim = NA), list(s = spec("raud", "~ weeks_c"), xlim = "c(0, 0.1)"),
  list(s = spec("normand", NA, "ML"), xlim = NA), list(s = spec("konst", "~ year", "ML"), xlim = "c(0, 0.3)")
)
profile_cases <- lapply(prof_specs, function(ps) {
  res <- fit(ps$s)
  a <- list(res, steps = 20, plot = FALSE, progbar = FALSE)
  if (!is.na(ps$xlim)) a$xlim <- eval(parse(text = ps$xlim))
  pr <- do.call(profile, a)
  list(model = model_of(ps$s),
       call = paste0(PREP[[ps$s$data]], "; profile(", fit_call(ps$s),
                     if (is.na(ps$xlim)) "" else paste0(", xlim=", ps$xlim), ", steps=20)"),
       expected = list(tau2_grid = nums(pr$tau2), loglik = nums(pr$ll), coef = as.matrix(pr$beta),
                       tau2_hat = num(pr$vc), loglik_max = as.numeric(pr$maxll)))
})

out <- list(
  generated_by = "tests/reference/metafor_inference.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  date = as.character(Sys.Date()),
  rma_control = CONTROL,
  confint_control = CI_CONTROL,
  preparation = PREP,
  data = data_out,
  fits = fits,
  predict = predict_cases,
  blup = blup_cases,
  lrt = lrt_cases,
  reml_different_fixed_effects = list(
    call = paste0(PREP$bcg, "; anova(", fit_call(spec("bcg", "~ ablat + year")), ", ", fit_call(spec("bcg", "~ ablat")), ")"),
    metafor_warning = reml_warning),
  wald = wald_cases,
  contrasts = contrast_cases,
  confint = confint_cases,
  pl_uniroot = pl_check,
  profile = profile_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE, matrix = "rowmajor"),
           out_path)
cat("wrote", out_path, ":", length(fits), "fits,", length(predict_cases), "predict,", length(blup_cases), "blup,",
    length(lrt_cases), "LRT,", length(wald_cases), "Wald,", length(contrast_cases), "contrast,",
    length(confint_cases), "confint,", length(profile_cases), "profile cases\n")

# Reference values from metafor for tpmeta's tests.
#
#   Rscript tests/reference/metafor_reference.R      (or: make reference)
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite.
# Writes tests/reference/metafor_reference.json. The tests read the JSON and never need R.
#
# Convergence controls are tightened from metafor's defaults (threshold 1e-5, uniroot tol ~1.2e-4)
# so that the reference values are accurate to ~1e-10 and a 1e-6 tolerance tests tpmeta, not the
# looseness of metafor's stopping rule. The exact call is stored with every case.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_reference.json")

CONTROL <- "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
CI_CONTROL <- "list(tol = 1e-12, tau2.max = 1e6)"
methods <- c("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")
tests <- c("z", "knha", "knha_adhoc")
# tpmeta name -> metafor 3.8.1 name (the Knapp-Hartung ad hoc correction is test="adhoc" in rma.uni)
R_TEST <- c(z = "z", knha = "knha", knha_adhoc = "adhoc")

num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)

# ---- datasets for pooling: (yi, vi) pairs ------------------------------------------------------
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
normand <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i,
                  m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
li <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.li2007)
molloy <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)

pool_sets <- list(
  list(name = "dat.bcg", description = "BCG vaccine trials, log risk ratio (escalc RR)",
       prep = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
       yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi)),
  list(name = "dat.normand1999", description = "Stroke care length of stay, Hedges' g (escalc SMD)",
       prep = 'escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)',
       yi = as.numeric(normand$yi), vi = as.numeric(normand$vi)),
  list(name = "dat.hackshaw1998", description = "Passive smoking and lung cancer, log odds ratios as given",
       prep = "dat.hackshaw1998 (columns yi, vi)",
       yi = dat.hackshaw1998$yi, vi = dat.hackshaw1998$vi),
  list(name = "dat.li2007", description = "Magnesium trials with zero cells, log odds ratio (escalc OR, add=1/2 to only0)",
       prep = 'escalc(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.li2007)',
       yi = as.numeric(li$yi), vi = as.numeric(li$vi)),
  list(name = "dat.molloy2014", description = "Conscientiousness and adherence, Fisher z (escalc ZCOR)",
       prep = 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.molloy2014)',
       yi = as.numeric(molloy$yi), vi = as.numeric(molloy$vi)),
  list(name = "edge.k2", description = "k = 2: the first two BCG trials",
       prep = "first two rows of the dat.bcg RR set",
       yi = as.numeric(bcg$yi[1:2]), vi = as.numeric(bcg$vi[1:2])),
  list(name = "edge.homogeneous", description = "tau2 = 0: Q well below k - 1 (constructed)",
       prep = "constructed",
       yi = c(0.10, 0.12, 0.11, 0.09, 0.105), vi = c(0.04, 0.05, 0.03, 0.06, 0.045)),
  list(name = "edge.extreme", description = "extreme heterogeneity: I2 near 100% (constructed)",
       prep = "constructed",
       yi = c(-2.0, 0.1, 3.0, 5.5, -4.0, 1.2), vi = c(0.010, 0.020, 0.015, 0.010, 0.030, 0.012))
)

pool_cases <- list()
for (ds in pool_sets) {
  for (m in methods) {
    for (t in tests) {
      call <- sprintf('rma(yi, vi, method="%s", test="%s", control=%s)', m, R_TEST[[t]], CONTROL)
      res <- suppressWarnings(rma(ds$yi, ds$vi, method = m, test = R_TEST[[t]],
                                  control = eval(parse(text = CONTROL))))
      pr <- predict(res)
      # FE: predict() reports no PI; with tau2 = 0 the PI is the CI, which tpmeta reports
      pi_lb <- if (!is.null(pr$pi.lb)) pr$pi.lb else pr$ci.lb
      pi_ub <- if (!is.null(pr$pi.ub)) pr$pi.ub else pr$ci.ub
      ci_call <- NA_character_
      tau2_ci <- c(NA, NA); i2_ci <- c(NA, NA); h2_ci <- c(NA, NA)
      if (m != "FE") {
        ci_call <- sprintf("confint(res, control=%s)", CI_CONTROL)
        ci <- suppressWarnings(confint(res, control = eval(parse(text = CI_CONTROL))))
        tau2_ci <- ci$random["tau^2", c("ci.lb", "ci.ub")]
        i2_ci <- ci$random["I^2(%)", c("ci.lb", "ci.ub")]
        h2_ci <- ci$random["H^2", c("ci.lb", "ci.ub")]
      }
      pool_cases[[length(pool_cases) + 1]] <- list(
        dataset = ds$name, description = ds$description, preparation = ds$prep,
        method = m, test = t, call = call, confint_call = ci_call,
        yi = ds$yi, vi = ds$vi,
        expected = list(
          estimate = num(res$beta), se = num(res$se), statistic = num(res$zval),
          pvalue = num(res$pval), ci_low = num(res$ci.lb), ci_high = num(res$ci.ub),
          tau2 = num(res$tau2), tau2_ci_low = num(tau2_ci[1]), tau2_ci_high = num(tau2_ci[2]),
          i2 = num(res$I2), i2_ci_low = num(i2_ci[1]), i2_ci_high = num(i2_ci[2]),
          h2 = num(res$H2), q = num(res$QE), q_pvalue = num(res$QEp),
          pi_low = num(pi_lb), pi_high = num(pi_ub), k = res$k
        )
      )
    }
  }
}

# ---- escalc ------------------------------------------------------------------------------------
escalc_cases <- list()
add_escalc <- function(dataset, measure, call_text, data, inputs, extra = list()) {
  es <- eval(parse(text = call_text))
  escalc_cases[[length(escalc_cases) + 1]] <<- list(
    dataset = dataset, measure = measure, call = call_text, options = extra,
    inputs = lapply(data[inputs], as.numeric),
    yi = as.numeric(es$yi), vi = as.numeric(es$vi)
  )
}
bin <- c("tpos", "tneg", "cpos", "cneg")
for (m in c("RR", "OR", "RD")) {
  add_escalc("dat.bcg", m,
             sprintf('escalc(measure="%s", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)', m),
             dat.bcg, bin)
  li_tab <- data.frame(ai = dat.li2007$ai, bi = dat.li2007$n1i - dat.li2007$ai,
                       ci = dat.li2007$ci, di = dat.li2007$n2i - dat.li2007$ci)
  assign("li_tab", li_tab, envir = globalenv())
  add_escalc("dat.li2007", m,
             sprintf('escalc(measure="%s", ai=ai, bi=bi, ci=ci, di=di, data=li_tab)', m),
             li_tab, c("ai", "bi", "ci", "di"))
  add_escalc("dat.li2007", m,
             sprintf('escalc(measure="%s", ai=ai, bi=bi, ci=ci, di=di, data=li_tab, add=1/2, to="all")', m),
             li_tab, c("ai", "bi", "ci", "di"), extra = list(add = 0.5, to = "all"))
}
cont <- c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
for (m in c("SMD", "MD")) {
  add_escalc("dat.normand1999", m,
             sprintf('escalc(measure="%s", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)', m),
             dat.normand1999, cont)
}

# ---- leave-one-out and cumulative ---------------------------------------------------------------
seq_cases <- list()
for (ds in pool_sets[c(1, 2, 4)]) {
  for (m in c("DL", "REML")) {
    for (t in tests) {
      res <- rma(ds$yi, ds$vi, method = m, test = R_TEST[[t]], control = eval(parse(text = CONTROL)))
      l1 <- leave1out(res)
      cu <- cumul(res)
      seq_cases[[length(seq_cases) + 1]] <- list(
        dataset = ds$name, method = m, test = t, yi = ds$yi, vi = ds$vi,
        call = sprintf('leave1out(rma(yi, vi, method="%s", test="%s", control=%s)); cumul(same)', m, R_TEST[[t]], CONTROL),
        leave1out = list(estimate = as.numeric(l1$estimate), se = as.numeric(l1$se),
                         ci_low = as.numeric(l1$ci.lb), ci_high = as.numeric(l1$ci.ub),
                         pvalue = as.numeric(l1$pval), q = as.numeric(l1$Q), tau2 = as.numeric(l1$tau2),
                         i2 = as.numeric(l1$I2), h2 = as.numeric(l1$H2)),
        cumulative = list(estimate = as.numeric(cu$estimate), se = as.numeric(cu$se),
                          ci_low = as.numeric(cu$ci.lb), ci_high = as.numeric(cu$ci.ub),
                          tau2 = as.numeric(cu$tau2), i2 = as.numeric(cu$I2))
      )
    }
  }
}

# ---- a user-fixed tau2 stays fixed in the refits of leave1out() and influence() ---------------------
fixed_cases <- list()
for (ds in pool_sets[1:2]) {
  for (t in tests) {
    res <- rma(ds$yi, ds$vi, tau2 = 0.1, test = R_TEST[[t]], control = eval(parse(text = CONTROL)))
    l1 <- leave1out(res)
    inf <- influence(res)
    fixed_cases[[length(fixed_cases) + 1]] <- list(
      dataset = ds$name, tau2 = 0.1, test = t, yi = ds$yi, vi = ds$vi,
      call = sprintf('leave1out(rma(yi, vi, tau2=0.1, test="%s", control=%s)); influence(same)', R_TEST[[t]], CONTROL),
      leave1out = list(estimate = as.numeric(l1$estimate), se = as.numeric(l1$se),
                       ci_low = as.numeric(l1$ci.lb), ci_high = as.numeric(l1$ci.ub),
                       tau2 = as.numeric(l1$tau2), q = as.numeric(l1$Q)),
      influence = list(rstudent = as.numeric(inf$inf$rstudent), dffits = as.numeric(inf$inf$dffits),
                       cook_d = as.numeric(inf$inf$cook.d), tau2_del = as.numeric(inf$inf$tau2.del))
    )
  }
}

# ---- small-study effects -------------------------------------------------------------------------
bias_cases <- list()
for (ds in pool_sets[1:5]) {
  res <- rma(ds$yi, ds$vi, method = "REML", control = eval(parse(text = CONTROL)))
  eg <- regtest(res, model = "lm", predictor = "sei")
  rk <- suppressWarnings(ranktest(res))
  bias_cases[[length(bias_cases) + 1]] <- list(
    dataset = ds$name, yi = ds$yi, vi = ds$vi,
    call = 'regtest(rma(yi, vi, method="REML"), model="lm", predictor="sei"); ranktest(same)',
    egger = list(statistic = num(eg$zval), pvalue = num(eg$pval), df = num(eg$dfs),
                 slope = num(eg$fit$coefficients[2]), limit_estimate = num(eg$est),
                 limit_ci_low = num(eg$ci.lb), limit_ci_high = num(eg$ci.ub)),
    begg = list(tau = num(rk$tau), pvalue = num(rk$pval))
  )
}

out <- list(
  generated_by = "tests/reference/metafor_reference.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  date = as.character(Sys.Date()),
  rma_control = CONTROL,
  confint_control = CI_CONTROL,
  methods = methods,
  tests = tests,
  datasets = vapply(pool_sets, function(d) d$name, ""),
  pooling = pool_cases,
  escalc = escalc_cases,
  sequential = seq_cases,
  fixed_tau2_sequential = fixed_cases,
  small_study = bias_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "with", length(pool_cases), "pooling cases and",
    length(escalc_cases), "escalc cases\n")

# Reference values for tpmeta's small-study tests and diagnostic-plot data:
#   * regtest(): Egger's test as metafor's default (model="rma": a meta-regression on the predictor with
#     the model's method and test) and as model="lm" (weighted least squares, free dispersion), with the
#     predictors sei, vi, ni, ninv, sqrtni, sqrtninv;
#   * ranktest(): Begg's test, including k >= 50 (metafor 3.8.1 calls cor.test(exact = TRUE), i.e. the
#     exact distribution of Kendall's tau whenever there are no ties, for any k) and data with ties;
#   * Peters' test (Peters et al. 2006, doi:10.1001/jama.295.6.676): lm(yi ~ I(1/ni), weights =
#     1/(1/(ai+ci) + 1/(bi+di))), written out here because metafor has no function for it;
#   * Harbord's test (Harbord et al. 2006, doi:10.1002/sim.2380): regression of Z/sqrt(V) on sqrt(V)
#     (Z efficient score, V Fisher information of the log OR), computed twice: by lm() directly and as
#     regtest(model="lm") on escalc(measure="PETO", add=0) (yi = Z/V, vi = 1/V);
#   * the data of radial(), labbe() and qqnorm.rma.uni() (the points these functions draw).
#
#   Rscript tests/reference/metafor_regtest.R      (or: make reference)
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite. Writes
# tests/reference/metafor_regtest.json, read by tests/diagnostics/test_regtest_variants.py and
# tests/plots/test_radial_labbe_qq.py. Controls are tightened as in metafor_reference.R; regtest()
# passes the model's control on to its meta-regression.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_regtest.json")

CONTROL <- "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
ctrl <- eval(parse(text = CONTROL))
num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)

yusuf6 <- subset(dat.yusuf1985, table == "6" & !is.na(ai))
prep <- list(
  dat.bcg = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
  dat.egger2001 = 'escalc(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.egger2001)',
  dat.normand1999 = 'escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)',
  dat.molloy2014 = 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.molloy2014)',
  dat.curtis1998 = 'escalc(measure="ROM", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.curtis1998)',
  dat.linde2005 = 'escalc(measure="RR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.linde2005)',
  dat.crede2010 = 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.crede2010)',
  dat.mcdaniel1994 = 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.mcdaniel1994)',
  dat.hackshaw1998 = "dat.hackshaw1998 (columns yi, vi; no sample sizes)"
)
sets <- list()
for (n in names(prep)) {
  d <- if (n == "dat.hackshaw1998") dat.hackshaw1998 else eval(parse(text = prep[[n]]))
  d <- d[!is.na(d$yi), ]
  ni <- attr(d$yi, "ni")
  sets[[n]] <- list(dataset = n, preparation = prep[[n]], yi = as.numeric(d$yi), vi = as.numeric(d$vi),
                    ni = if (is.null(ni)) NULL else as.numeric(ni))
}

fit <- function(ds, method, test = "z") {
  if (is.null(ds$ni)) return(suppressWarnings(rma(ds$yi, ds$vi, method = method, test = test, control = ctrl)))
  suppressWarnings(rma(ds$yi, ds$vi, ni = ds$ni, method = method, test = test, control = ctrl))
}

# ---- regtest --------------------------------------------------------------------------------------
reg_case <- function(d, method, test, model, predictor) {
  ds <- sets[[d]]
  res <- fit(ds, method, test)
  rt <- suppressWarnings(regtest(res, model = model, predictor = predictor))
  tau2 <- if (model == "rma") num(rt$fit$tau2) else NA_real_
  list(
    dataset = d, method = method, test = test, model = model, predictor = predictor,
    call = sprintf('regtest(rma(yi, vi, ni=ni, method="%s", test="%s", control=%s), model="%s", predictor="%s")',
                   method, test, CONTROL, model, predictor),
    expected = list(statistic = num(rt$zval), pvalue = num(rt$pval), df = num(rt$dfs),
                    slope = num(coef(rt$fit)[2]), limit_estimate = num(rt$est),
                    limit_ci_low = num(rt$ci.lb), limit_ci_high = num(rt$ci.ub), tau2 = tau2)
  )
}
regtest_cases <- list()
add_reg <- function(...) regtest_cases[[length(regtest_cases) + 1]] <<- reg_case(...)
for (d in c("dat.bcg", "dat.egger2001", "dat.normand1999", "dat.molloy2014", "dat.curtis1998",
            "dat.linde2005", "dat.crede2010", "dat.hackshaw1998")) {
  for (model in c("rma", "lm")) add_reg(d, "REML", "z", model, "sei")
}
for (d in c("dat.bcg", "dat.egger2001", "dat.molloy2014")) {
  for (pred in c("vi", "ni", "ninv", "sqrtni", "sqrtninv")) {
    for (model in c("rma", "lm")) add_reg(d, "REML", "z", model, pred)
  }
}
for (d in c("dat.bcg", "dat.hackshaw1998")) {
  for (m in c("FE", "DL", "ML", "PM")) add_reg(d, m, "z", "rma", "sei")
  add_reg(d, "REML", "knha", "rma", "sei")
  add_reg(d, "DL", "knha", "rma", "vi")
}

# ---- ranktest -------------------------------------------------------------------------------------
set.seed(20230101)
big <- list(yi = rnorm(200, 0.2, 0.3), vi = runif(200, 0.01, 0.2))
rank_sets <- c(sets, list(constructed.k200 = list(dataset = "constructed.k200",
                                                  preparation = "set.seed(20230101); yi = rnorm(200, 0.2, 0.3); vi = runif(200, 0.01, 0.2)",
                                                  yi = big$yi, vi = big$vi)))
ranktest_cases <- list()
for (d in names(rank_sets)) {
  ds <- rank_sets[[d]]
  res <- fit(ds, "REML")
  rk <- suppressWarnings(ranktest(res))
  rk_normal <- ranktest(res, exact = FALSE)
  ystar <- (ds$yi - weighted.mean(ds$yi, 1 / ds$vi)) / sqrt(ds$vi - 1 / sum(1 / ds$vi))
  ties <- length(unique(ystar)) < length(ds$yi) || length(unique(ds$vi)) < length(ds$vi)
  ranktest_cases[[length(ranktest_cases) + 1]] <- list(
    dataset = d, k = length(ds$yi), ties = ties, yi = ds$yi, vi = ds$vi,
    call = sprintf('ranktest(rma(yi, vi, method="REML", control=%s))', CONTROL),
    expected = list(tau = num(rk$tau), pvalue = num(rk$pval), pvalue_normal = num(rk_normal$pval))
  )
}

# ---- Peters and Harbord -----------------------------------------------------------------------------
tables <- list(
  dat.egger2001 = list(d = dat.egger2001, cols = c("ai", "n1i", "ci", "n2i")),
  dat.bcg = list(d = dat.bcg, cols = c("tpos", "n1", "cpos", "n2")),
  `dat.yusuf1985[table 6]` = list(d = yusuf6, cols = c("ai", "n1i", "ci", "n2i")),
  dat.linde2005 = list(d = subset(dat.linde2005, !is.na(ai) & !is.na(ci)), cols = c("ai", "n1i", "ci", "n2i"))
)
tables$dat.bcg$d$n1 <- dat.bcg$tpos + dat.bcg$tneg
tables$dat.bcg$d$n2 <- dat.bcg$cpos + dat.bcg$cneg
binary_cases <- list()
for (d in names(tables)) {
  t <- tables[[d]]
  ai <- as.numeric(t$d[[t$cols[1]]]); n1i <- as.numeric(t$d[[t$cols[2]]])
  ci <- as.numeric(t$d[[t$cols[3]]]); n2i <- as.numeric(t$d[[t$cols[4]]])
  bi <- n1i - ai; di <- n2i - ci
  for (m in c("OR", "RR")) {
    es <- escalc(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i)
    w <- 1 / (1 / (ai + ci) + 1 / (bi + di))
    x <- 1 / (n1i + n2i)
    pt <- lm(es$yi ~ x, weights = w)
    s <- summary(pt)$coefficients
    binary_cases[[length(binary_cases) + 1]] <- list(
      dataset = d, test = "Peters", measure = m,
      call = sprintf('lm(yi ~ I(1/(n1i+n2i)), weights = 1/(1/(ai+ci) + 1/(bi+di))) with yi from escalc(measure="%s", ai, n1i, ci, n2i)', m),
      counts = list(ai = ai, bi = bi, ci = ci, di = di), yi = as.numeric(es$yi), vi = as.numeric(es$vi),
      expected = list(slope = s[2, 1], slope_se = s[2, 2], statistic = s[2, 3], pvalue = s[2, 4],
                      intercept = s[1, 1], df = pt$df.residual)
    )
  }
  n <- n1i + n2i
  Z <- ai - (ai + ci) * n1i / n
  V <- n1i * n2i * (ai + ci) * (bi + di) / (n^2 * (n - 1))
  keep <- V > 0
  hb <- lm(I(Z / sqrt(V)) ~ sqrt(V), subset = keep)
  s <- summary(hb)$coefficients
  peto <- suppressWarnings(escalc(measure = "PETO", ai = ai, n1i = n1i, ci = ci, n2i = n2i, add = 0))
  rt <- regtest(peto$yi[keep], peto$vi[keep], model = "lm")
  binary_cases[[length(binary_cases) + 1]] <- list(
    dataset = d, test = "Harbord", measure = "PETO",
    call = "lm(I(Z/sqrt(V)) ~ sqrt(V), subset = V > 0); regtest(yi, vi, model='lm') on escalc('PETO', add=0)",
    counts = list(ai = ai, bi = bi, ci = ci, di = di),
    expected = list(bias = s[1, 1], bias_se = s[1, 2], statistic = s[1, 3], pvalue = s[1, 4],
                    slope = s[2, 1], df = hb$df.residual, excluded = I(which(!keep) - 1),
                    regtest_statistic = num(rt$zval), regtest_pvalue = num(rt$pval),
                    regtest_limit = num(rt$est))
  )
}

# ---- radial(), labbe(), qqnorm() --------------------------------------------------------------------
plot_cases <- list()
pdf(NULL)
for (d in c("dat.bcg", "dat.egger2001", "dat.normand1999")) {
  for (m in c("FE", "REML")) {
    ds <- sets[[d]]
    res <- fit(ds, m)
    rd <- radial(res)
    qq <- qqnorm(res, envelope = FALSE)
    rs <- rstandard(res)
    plot_cases[[length(plot_cases) + 1]] <- list(
      dataset = d, method = m, yi = ds$yi, vi = ds$vi,
      call = sprintf('radial(rma(yi, vi, method="%s")); qqnorm(same, envelope=FALSE); rstandard(same)', m),
      radial = list(x = as.numeric(rd$x), z = as.numeric(rd$y)),
      qqnorm = list(theoretical = as.numeric(qq$x), sample = as.numeric(qq$y),
                    resid = as.numeric(rs$resid), se = as.numeric(rs$se), z = as.numeric(rs$z))
    )
  }
}
labbe_cases <- list()
labbe_data <- list(
  dat.bcg = list(call = 'rma(measure="%s", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg, method="%s")'),
  `dat.yusuf1985[table 6]` = list(call = 'rma(measure="%s", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=yusuf6, method="%s")')
)
for (d in names(labbe_data)) for (m in c("OR", "RR", "RD")) {
  call <- sprintf(labbe_data[[d]]$call, m, "REML")
  res <- suppressWarnings(eval(parse(text = call), list(ctrl = ctrl)))
  lb <- labbe(res)
  t <- if (d == "dat.bcg") list(ai = dat.bcg$tpos, bi = dat.bcg$tneg, ci = dat.bcg$cpos, di = dat.bcg$cneg) else
    list(ai = yusuf6$ai, bi = yusuf6$n1i - yusuf6$ai, ci = yusuf6$ci, di = yusuf6$n2i - yusuf6$ci)
  labbe_cases[[length(labbe_cases) + 1]] <- list(
    dataset = d, measure = m, call = sprintf("labbe(%s)", call), counts = t,
    yi = as.numeric(res$yi.f), vi = as.numeric(res$vi.f),
    estimate = num(res$beta), tau2 = num(res$tau2),
    expected = list(x = as.numeric(lb$x), y = as.numeric(lb$y), cex = as.numeric(lb$cex))
  )
}
invisible(dev.off())

out <- list(
  generated_by = "tests/reference/metafor_regtest.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  date = as.character(Sys.Date()),
  rma_control = CONTROL,
  datasets = unname(sets),
  regtest = regtest_cases,
  ranktest = ranktest_cases,
  binary = binary_cases,
  plots = plot_cases,
  labbe = labbe_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "with", length(regtest_cases), "regtest,", length(ranktest_cases), "ranktest,",
    length(binary_cases), "Peters/Harbord,", length(plot_cases), "radial/qq and", length(labbe_cases),
    "labbe cases\n")

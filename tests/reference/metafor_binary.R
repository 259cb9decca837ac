# Reference values from metafor for tpmeta.pool_binary (rma.mh, rma.peto), for pool(test="knha_adhoc")
# and subgroup_analysis(test="knha_adhoc") (metafor's test="adhoc") and for pool(tau2=<fixed value>)
# (metafor's rma(..., tau2=)).
#
#   Rscript tests/reference/metafor_binary.R      (or: make reference)
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite.
# Writes tests/reference/metafor_binary.json; the tests read the JSON and never need R.
#
# Every case stores the exact call (evaluated from that text), its inputs and the values. Non-finite
# numbers are written as the strings "Inf", "-Inf"; NA and NaN as null.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_binary.json")

CONTROL <- "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
CI_CONTROL <- "list(tol = 1e-12, tau2.max = 1e6)"

num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)
# vectors: keep +-Inf (as strings, JSON has no infinity), NA/NaN as null
vec <- function(x) {
  x <- as.numeric(x)
  lapply(x, function(v) if (is.na(v)) NA else if (is.infinite(v)) (if (v > 0) "Inf" else "-Inf") else v)
}

# ---- datasets of 2x2 tables (ai, n1i, ci, n2i) ---------------------------------------------------
bcg <- with(dat.bcg, data.frame(label = paste(author, year), ai = tpos, n1i = tpos + tneg,
                                ci = cpos, n2i = cpos + cneg))
y9 <- dat.yusuf1985[dat.yusuf1985$table == "9", ]
y9 <- y9[complete.cases(y9[, c("ai", "n1i", "ci", "n2i")]), ]
yusuf9 <- data.frame(label = y9$trial, ai = y9$ai, n1i = y9$n1i, ci = y9$ci, n2i = y9$n2i)
niel <- with(dat.nielweise2007, data.frame(label = paste(author, year), ai = ai, n1i = n1i, ci = ci, n2i = n2i))
co <- dat.collins1985a[!is.na(dat.collins1985a$d.xti), ]
collins <- data.frame(label = co$trial, ai = co$d.xti, n1i = co$nti, ci = co$d.xci, n2i = co$nci)

binary_sets <- list(
  dat.bcg = list(data = bcg, prep = "dat.bcg: ai=tpos, n1i=tpos+tneg, ci=cpos, n2i=cpos+cneg",
                 description = "BCG vaccine trials (no zero cells)"),
  dat.yusuf1985.table9 = list(data = yusuf9,
                 prep = 'dat.yusuf1985[table == "9"], rows with all of ai, n1i, ci, n2i present',
                 description = "Beta blockers, Yusuf et al. 1985 table 9: sparse, 6 double-zero trials"),
  dat.nielweise2007 = list(data = niel, prep = "dat.nielweise2007 (ai, n1i, ci, n2i)",
                 description = "Catheter infections: single-zero trials and one double-zero trial (Yucel 2004)"),
  dat.collins1985a.deaths = list(data = collins,
                 prep = "dat.collins1985a rows with d.xti present: ai=d.xti, n1i=nti, ci=d.xci, n2i=nci",
                 description = "Sclerotherapy deaths: zero cells and double zeros (all-zero Foco trial)")
)

binary_cases <- list()
add_binary <- function(set, fun, args_text, options) {
  d <- binary_sets[[set]]$data
  call <- sprintf("%s(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=d%s)", fun, args_text)
  res <- suppressWarnings(eval(parse(text = call)))
  op <- options(na.action = "na.pass")
  w <- weights(res)
  options(op)
  is_mh <- fun == "rma.mh"
  measure <- if (is_mh) res$measure else "OR"
  ratio <- measure != "RD"
  expected <- list(
    estimate = num(res$beta), se = num(res$se), statistic = num(res$zval), pvalue = num(res$pval),
    ci_low = num(res$ci.lb), ci_high = num(res$ci.ub),
    estimate_exp = if (ratio) num(exp(res$beta)) else NA_real_,
    ci_low_exp = if (ratio) num(exp(res$ci.lb)) else NA_real_,
    ci_high_exp = if (ratio) num(exp(res$ci.ub)) else NA_real_,
    q = num(res$QE), q_pvalue = num(res$QEp), i2 = num(res$I2), h2 = num(res$H2),
    k = res$k, k_yi = res$k.yi,
    cmh = if (is_mh) num(res$MH) else NA_real_, cmh_pvalue = if (is_mh) num(res$MHp) else NA_real_,
    tarone = if (is_mh) num(res$TA) else NA_real_, tarone_pvalue = if (is_mh) num(res$TAp) else NA_real_,
    breslow_day = if (is_mh) num(res$BD) else NA_real_,
    breslow_day_pvalue = if (is_mh) num(res$BDp) else NA_real_,
    yi = vec(res$yi.f), vi = vec(res$vi.f), weights = vec(w)
  )
  binary_cases[[length(binary_cases) + 1]] <<- list(
    dataset = set, description = binary_sets[[set]]$description, preparation = binary_sets[[set]]$prep,
    method = if (is_mh) "MH" else "PETO", call = call, weights_call = 'options(na.action="na.pass"); weights(res)',
    options = c(list(measure = measure), options),
    inputs = list(label = d$label, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i),
    expected = expected
  )
}
defaults <- list(add = c(0.5, 0), to = c("only0", "none"), drop00 = c(TRUE, FALSE), correct = TRUE, level = 0.95)
with_opts <- function(...) modifyList(defaults, list(...))

for (set in names(binary_sets)) {
  for (m in c("OR", "RR", "RD")) add_binary(set, "rma.mh", sprintf(', measure="%s"', m), defaults)
  add_binary(set, "rma.peto", "", defaults)
}
# the options, on the data with zero cells and a double-zero trial
add_binary("dat.bcg", "rma.mh", ', measure="OR", correct=FALSE', with_opts(correct = FALSE))
add_binary("dat.bcg", "rma.mh", ', measure="RR", level=90', with_opts(level = 0.90))
add_binary("dat.nielweise2007", "rma.mh", ', measure="OR", correct=FALSE', with_opts(correct = FALSE))
for (m in c("OR", "RR", "RD")) {
  add_binary("dat.nielweise2007", "rma.mh", sprintf(', measure="%s", drop00=FALSE', m),
             with_opts(drop00 = c(FALSE, FALSE)))
  add_binary("dat.nielweise2007", "rma.mh", sprintf(', measure="%s", drop00=c(TRUE, TRUE)', m),
             with_opts(drop00 = c(TRUE, TRUE)))
  add_binary("dat.nielweise2007", "rma.mh", sprintf(', measure="%s", add=c(1/2, 1/2), to=c("only0", "only0")', m),
             with_opts(add = c(0.5, 0.5), to = c("only0", "only0")))
  add_binary("dat.nielweise2007", "rma.mh", sprintf(', measure="%s", to="all"', m),
             with_opts(to = c("all", "none")))
  add_binary("dat.nielweise2007", "rma.mh", sprintf(', measure="%s", to="if0all", add=1', m),
             with_opts(to = c("if0all", "none"), add = c(1, 0)))
  add_binary("dat.nielweise2007", "rma.mh", sprintf(', measure="%s", to="none"', m),
             with_opts(to = c("none", "none")))
  add_binary("dat.collins1985a.deaths", "rma.mh", sprintf(', measure="%s", drop00=c(TRUE, TRUE)', m),
             with_opts(drop00 = c(TRUE, TRUE)))
  add_binary("dat.collins1985a.deaths", "rma.mh",
             sprintf(', measure="%s", add=c(1/2, 1/4), to=c("all", "if0all"), drop00=c(FALSE, FALSE)', m),
             with_opts(add = c(0.5, 0.25), to = c("all", "if0all"), drop00 = c(FALSE, FALSE)))
}
add_binary("dat.nielweise2007", "rma.peto", ", drop00=FALSE", with_opts(drop00 = c(FALSE, FALSE)))
add_binary("dat.nielweise2007", "rma.peto", ", to=\"none\"", with_opts(to = c("none", "none")))
add_binary("dat.nielweise2007", "rma.peto", ', add=c(1/2, 1/2), to=c("only0", "only0")',
           with_opts(add = c(0.5, 0.5), to = c("only0", "only0")))
add_binary("dat.collins1985a.deaths", "rma.peto", ", drop00=c(TRUE, TRUE), level=99",
           with_opts(drop00 = c(TRUE, TRUE), level = 0.99))
add_binary("dat.yusuf1985.table9", "rma.peto", ', add=c(1/2, 1/2), to=c("all", "all")',
           with_opts(add = c(0.5, 0.5), to = c("all", "all")))

# ---- (yi, vi) sets for test="adhoc" and fixed tau2 ---------------------------------------------------
bcg_es <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
normand <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i,
                  m2i = m2i, sd2i = sd2i, n2i = n2i, data = dat.normand1999)
li <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.li2007)
pool_sets <- list(
  list(name = "dat.bcg", prep = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
       yi = as.numeric(bcg_es$yi), vi = as.numeric(bcg_es$vi)),
  list(name = "dat.normand1999",
       prep = 'escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)',
       yi = as.numeric(normand$yi), vi = as.numeric(normand$vi)),
  list(name = "dat.li2007", prep = 'escalc(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.li2007)',
       yi = as.numeric(li$yi), vi = as.numeric(li$vi)),
  # Knapp-Hartung s^2 < 1: the ad hoc floor is active
  list(name = "edge.homogeneous", prep = "constructed (Q well below k - 1)",
       yi = c(0.10, 0.12, 0.11, 0.09, 0.105), vi = c(0.04, 0.05, 0.03, 0.06, 0.045)),
  list(name = "edge.k2", prep = "first two rows of the dat.bcg RR set",
       yi = as.numeric(bcg_es$yi[1:2]), vi = as.numeric(bcg_es$vi[1:2]))
)

pool_expected <- function(res, tau2_fixed) {
  pr <- predict(res)
  pi_lb <- if (!is.null(pr$pi.lb)) pr$pi.lb else pr$ci.lb
  pi_ub <- if (!is.null(pr$pi.ub)) pr$pi.ub else pr$ci.ub
  tau2_ci <- c(NA, NA); i2_ci <- c(NA, NA)
  ci_call <- NA_character_
  if (!tau2_fixed && !is.element(res$method, c("FE", "EE", "CE")) && res$k > 1) {
    ci_call <- sprintf("confint(res, control=%s)", CI_CONTROL)
    ci <- suppressWarnings(confint(res, control = eval(parse(text = CI_CONTROL))))
    tau2_ci <- ci$random["tau^2", c("ci.lb", "ci.ub")]
    i2_ci <- ci$random["I^2(%)", c("ci.lb", "ci.ub")]
  }
  list(confint_call = ci_call, expected = list(
    estimate = num(res$beta), se = num(res$se), statistic = num(res$zval), pvalue = num(res$pval),
    ci_low = num(res$ci.lb), ci_high = num(res$ci.ub), tau2 = num(res$tau2),
    tau2_ci_low = num(tau2_ci[1]), tau2_ci_high = num(tau2_ci[2]),
    i2 = num(res$I2), i2_ci_low = num(i2_ci[1]), i2_ci_high = num(i2_ci[2]), h2 = num(res$H2),
    q = num(res$QE), q_pvalue = num(res$QEp), pi_low = num(pi_lb), pi_high = num(pi_ub),
    k = res$k, df = num(res$ddf), tau2_fixed = isTRUE(res$tau2.fix)))
}

adhoc_cases <- list()
for (ds in pool_sets) {
  for (m in c("FE", "DL", "REML", "PM", "SJ")) {
    call <- sprintf('rma(yi, vi, method="%s", test="adhoc", control=%s)', m, CONTROL)
    res <- suppressWarnings(rma(ds$yi, ds$vi, method = m, test = "adhoc", control = eval(parse(text = CONTROL))))
    knha <- suppressWarnings(rma(ds$yi, ds$vi, method = m, test = "knha", control = eval(parse(text = CONTROL))))
    e <- pool_expected(res, FALSE)
    s2 <- sum((ds$yi - as.numeric(knha$beta))^2 / (ds$vi + knha$tau2)) / (length(ds$yi) - 1)
    adhoc_cases[[length(adhoc_cases) + 1]] <- list(
      dataset = ds$name, preparation = ds$prep, method = m, test = "knha_adhoc", call = call,
      confint_call = e$confint_call, yi = ds$yi, vi = ds$vi, knha_s2 = s2, expected = e$expected)
  }
}

fixed_cases <- list()
fixed_grid <- list(
  list(set = 1, tau2 = 0.1, methods = c("REML", "DL"), tests = c("z", "knha", "adhoc")),
  list(set = 1, tau2 = 0, methods = c("REML"), tests = c("z", "knha")),
  list(set = 2, tau2 = 0.5, methods = c("REML", "PM"), tests = c("z", "knha", "adhoc")),
  list(set = 2, tau2 = 2.5, methods = c("ML"), tests = c("z")),
  list(set = 3, tau2 = 0.05, methods = c("DL"), tests = c("z", "adhoc")),
  list(set = 5, tau2 = 0.2, methods = c("REML"), tests = c("z", "knha"))
)
for (g in fixed_grid) {
  ds <- pool_sets[[g$set]]
  for (m in g$methods) for (t in g$tests) {
    call <- sprintf('rma(yi, vi, tau2=%s, method="%s", test="%s")', format(g$tau2), m, t)
    res <- rma(ds$yi, ds$vi, tau2 = g$tau2, method = m, test = t)
    e <- pool_expected(res, TRUE)
    fixed_cases[[length(fixed_cases) + 1]] <- list(
      dataset = ds$name, preparation = ds$prep, method = m, test = if (t == "adhoc") "knha_adhoc" else t,
      tau2 = g$tau2, call = call, confint_call = "confint(res) stops: no estimated random-effects component",
      yi = ds$yi, vi = ds$vi, expected = e$expected)
  }
}
# a single study with a fixed tau2 (metafor: I2 = 0, H2 = 1, the SE includes tau2)
res <- rma(0.3, 0.04, tau2 = 0.1)
fixed_cases[[length(fixed_cases) + 1]] <- list(
  dataset = "edge.k1", preparation = "constructed", method = "REML", test = "z", tau2 = 0.1,
  call = "rma(0.3, 0.04, tau2=0.1)", confint_call = NA_character_, yi = list(0.3), vi = list(0.04),
  expected = pool_expected(res, TRUE)$expected)

# ---- subgroups with test="adhoc": dat.bcg (RR) by allocation -----------------------------------------
subgroup_cases <- list()
alloc <- as.character(dat.bcg$alloc)
for (m in c("DL", "REML")) {
  common_call <- sprintf('rma(yi, vi, mods=~factor(alloc), method="%s", test="adhoc", control=%s)', m, CONTROL)
  cells_call <- sprintf('rma(yi, vi, mods=~factor(alloc)-1, method="%s", test="adhoc", control=%s)', m, CONTROL)
  fit <- rma(bcg_es$yi, bcg_es$vi, mods = ~ factor(alloc), method = m, test = "adhoc", control = eval(parse(text = CONTROL)))
  cells <- rma(bcg_es$yi, bcg_es$vi, mods = ~ factor(alloc) - 1, method = m, test = "adhoc",
               control = eval(parse(text = CONTROL)))
  subgroup_cases[[length(subgroup_cases) + 1]] <- list(
    dataset = "dat.bcg", groups = alloc, method = m, test = "knha_adhoc", tau2 = "common",
    call = paste(common_call, "; ", cells_call), yi = as.numeric(bcg_es$yi), vi = as.numeric(bcg_es$vi),
    expected = list(q_between = num(fit$QM), df_between = fit$QMdf[1], df2_between = fit$QMdf[2],
                    pvalue_between = num(fit$QMp), levels = sort(unique(alloc)),
                    estimate = as.numeric(cells$beta), se = as.numeric(cells$se),
                    ci_low = as.numeric(cells$ci.lb), ci_high = as.numeric(cells$ci.ub)))
  fits <- lapply(sort(unique(alloc)), function(g)
    rma(bcg_es$yi, bcg_es$vi, subset = alloc == g, method = m, test = "adhoc", control = eval(parse(text = CONTROL))))
  est <- sapply(fits, function(f) as.numeric(f$beta)); se <- sapply(fits, function(f) f$se)
  qb <- rma(est, sei = se, method = "FE")
  subgroup_cases[[length(subgroup_cases) + 1]] <- list(
    dataset = "dat.bcg", groups = alloc, method = m, test = "knha_adhoc", tau2 = "separate",
    call = sprintf('rma(yi, vi, subset=alloc==g, method="%s", test="adhoc", control=%s) per group; rma(est, sei=se, method="FE")$QE', m, CONTROL),
    yi = as.numeric(bcg_es$yi), vi = as.numeric(bcg_es$vi),
    expected = list(q_between = num(qb$QE), df_between = length(fits) - 1, df2_between = NA,
                    pvalue_between = num(qb$QEp), levels = sort(unique(alloc)), estimate = est, se = se,
                    ci_low = sapply(fits, function(f) f$ci.lb), ci_high = sapply(fits, function(f) f$ci.ub)))
}

out <- list(
  generated_by = "tests/reference/metafor_binary.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  date = as.character(Sys.Date()),
  rma_control = CONTROL,
  confint_control = CI_CONTROL,
  binary = binary_cases,
  adhoc = adhoc_cases,
  fixed_tau2 = fixed_cases,
  subgroups = subgroup_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "with", length(binary_cases), "binary,", length(adhoc_cases), "adhoc and",
    length(fixed_cases), "fixed-tau2 and", length(subgroup_cases), "subgroup cases\n")

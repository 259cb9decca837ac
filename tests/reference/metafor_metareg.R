# Reference values from metafor for tpmeta's meta-regression, subgroup and permutation tests.
#
#   Rscript tests/reference/metafor_metareg.R
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite.
# Writes tests/reference/metafor_metareg.json; tests/test_metareg.py reads it and never needs R.
#
# Convergence controls are tightened exactly as in metafor_reference.R (threshold/tol 1e-12) so the
# reference values are accurate to ~1e-10. The exact call is stored with every case.
#
# Data: dat.bcg (13 BCG vaccine trials), log risk ratio from escalc(measure="RR"), moderators ablat
# (absolute latitude, continuous), year (continuous) and alloc (treatment allocation, a factor with
# levels alternate/random/systematic; "alternate" is the reference level, as in R).
#
# One deliberate exception: models WITHOUT an intercept. metafor 3.8 estimates tau^2 and computes QE
# from the mean-centred outcomes (Ymc) in every model; that is harmless when the model has an
# intercept (the residual projection removes the mean anyway) but changes tau^2 and QE when it does
# not (for mods=~ablat-1, method="FE": QE = 209.7 from metafor, 48.70 = sum(w*(y - X b)^2)).
# tpmeta uses the uncentred outcomes there, so the no-intercept case below is computed
# independently: REML tau^2 as the root of the REML score with explicit k x k matrices (uniroot), then
# rma(..., tau2 = that value), whose coefficients do use the uncentred outcomes, and QE by hand.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_metareg.json")

CONTROL <- "list(threshold = 1e-12, tol = 1e-12, maxiter = 10000, tau2.max = 1e6)"
ctrl <- eval(parse(text = CONTROL))
methods <- c("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")
tests <- c("z", "knha", "knha_adhoc")
# tpmeta name -> metafor 3.8.1 name (the Knapp-Hartung ad hoc correction is test="adhoc" in rma.uni)
R_TEST <- c(z = "z", knha = "knha", knha_adhoc = "adhoc")

num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)
nums <- function(x) as.numeric(x)  # vectors of length 1 are wrapped in I() to stay JSON arrays

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
PREP <- 'dat <- escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)'
data_out <- list(
  yi = nums(bcg$yi), vi = nums(bcg$vi), ablat = nums(bcg$ablat), year = nums(bcg$year),
  alloc = as.character(bcg$alloc), trial = nums(bcg$trial)
)

expected_of <- function(res) {
  list(
    names = I(rownames(res$beta)),
    coef = I(nums(res$beta)), se = I(nums(res$se)), statistic = I(nums(res$zval)),
    pvalue = I(nums(res$pval)), ci_low = I(nums(res$ci.lb)), ci_high = I(nums(res$ci.ub)),
    tau2 = num(res$tau2), tau2_se = num(res$se.tau2),
    qm = num(res$QM), qm_df = num(res$QMdf[1]), qm_df2 = num(res$QMdf[2]), qm_pvalue = num(res$QMp),
    qe = num(res$QE), qe_df = res$k - res$p, qe_pvalue = num(res$QEp),
    i2 = num(res$I2), h2 = num(res$H2), r2 = num(res$R2), k = res$k, p = res$p
  )
}

# ---- meta-regression grid ---------------------------------------------------------------------
models <- list(
  list(name = "ablat", formula = "~ ablat", columns = list("ablat")),
  list(name = "alloc", formula = "~ alloc", columns = list("alloc")),
  list(name = "ablat+year", formula = "~ ablat + year", columns = list("ablat", "year"))
)
metareg_cases <- list()
for (mod in models) {
  for (m in methods) {
    for (t in tests) {
      call <- sprintf('rma(yi, vi, mods=%s, data=dat, method="%s", test="%s", control=%s)',
                      mod$formula, m, R_TEST[[t]], CONTROL)
      res <- suppressWarnings(rma(yi, vi, mods = as.formula(mod$formula), data = bcg,
                                  method = m, test = R_TEST[[t]], control = ctrl))
      metareg_cases[[length(metareg_cases) + 1]] <- list(
        model = mod$name, columns = mod$columns, method = m, test = t, call = call,
        expected = expected_of(res)
      )
    }
  }
}

# ---- no intercept: independent computation (see the header) ------------------------------------
X <- cbind(ablat = bcg$ablat); y <- as.numeric(bcg$yi); v <- as.numeric(bcg$vi)
reml_score <- function(t2) {
  W <- diag(1 / (v + t2)); P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  c(t(y) %*% P %*% P %*% y - sum(diag(P)))
}
noint_cases <- list()
for (t in tests) {
  tau2 <- uniroot(reml_score, c(0, 10), tol = 1e-15, maxiter = 10000)$root
  res <- rma(yi, vi, mods = ~ ablat - 1, data = bcg, tau2 = tau2, test = R_TEST[[t]], control = ctrl)
  w <- 1 / v
  b_fe <- solve(t(X) %*% (w * X), t(X) %*% (w * y))
  qe <- sum(w * (y - X %*% b_fe)^2)
  P <- diag(w) - diag(w) %*% X %*% solve(t(X) %*% diag(w) %*% X) %*% t(X) %*% diag(w)
  vt <- (res$k - res$p) / sum(diag(P))
  ex <- expected_of(res)
  Wt <- diag(1 / (v + tau2))
  Pt <- Wt - Wt %*% X %*% solve(t(X) %*% Wt %*% X) %*% t(X) %*% Wt
  ex$tau2_se <- sqrt(2 / sum(Pt * Pt))  # metafor's REML formula
  ex$qe <- qe
  ex$qe_pvalue <- pchisq(qe, res$k - res$p, lower.tail = FALSE)
  ex$i2 <- 100 * tau2 / (vt + tau2)
  ex$h2 <- tau2 / vt + 1
  noint_cases[[length(noint_cases) + 1]] <- list(
    model = "ablat-1", columns = list("ablat"), method = "REML", test = t,
    call = paste0("tau2 <- uniroot(REML score, explicit k x k P, tol=1e-15)$root; se.tau2 = sqrt(2/sum(P*P)); ",
                  sprintf('rma(yi, vi, mods=~ablat-1, data=dat, tau2=tau2, test="%s"); QE, I2, H2 by hand', R_TEST[[t]])),
    expected = ex
  )
}

# ---- subgroups ----------------------------------------------------------------------------------
sub_methods <- c("FE", "DL", "REML", "ML", "PM")
subgroup_cases <- list()
levs <- sort(unique(as.character(bcg$alloc)))
for (m in sub_methods) {
  for (t in tests) {
    # separate tau^2: one rma per subgroup, Q_between = sum w_g (mu_g - mu_bar)^2, w_g = 1/se_g^2
    fits <- lapply(levs, function(g) suppressWarnings(
      rma(yi, vi, data = bcg, subset = alloc == g, method = m, test = R_TEST[[t]], control = ctrl)))
    est <- sapply(fits, function(f) num(f$beta)); se <- sapply(fits, function(f) num(f$se))
    wg <- 1 / se^2
    qb <- sum(wg * (est - sum(wg * est) / sum(wg))^2)
    subgroup_cases[[length(subgroup_cases) + 1]] <- list(
      variable = "alloc", method = m, test = t, tau2 = "separate",
      call = sprintf('for g in levels: rma(yi, vi, data=dat, subset=alloc==g, method="%s", test="%s", control=%s); Q_b = sum(w_g (b_g - sum(w_g b_g)/sum(w_g))^2), w_g = 1/se_g^2, df = G - 1',
                     m, R_TEST[[t]], CONTROL),
      expected = list(
        levels = levs, k = sapply(fits, function(f) f$k), estimate = est, se = se,
        ci_low = sapply(fits, function(f) num(f$ci.lb)), ci_high = sapply(fits, function(f) num(f$ci.ub)),
        tau2 = sapply(fits, function(f) num(f$tau2)), i2 = sapply(fits, function(f) num(f$I2)),
        q_between = qb, df_between = length(levs) - 1, df2_between = NA_real_,
        pvalue_between = pchisq(qb, length(levs) - 1, lower.tail = FALSE)
      )
    )
    # common tau^2: the QM test of rma(mods=~alloc); subgroup estimates from rma(mods=~alloc-1)
    res <- suppressWarnings(rma(yi, vi, mods = ~ alloc, data = bcg, method = m, test = R_TEST[[t]], control = ctrl))
    cell <- suppressWarnings(rma(yi, vi, mods = ~ alloc - 1, data = bcg, method = m, test = R_TEST[[t]], control = ctrl))
    subgroup_cases[[length(subgroup_cases) + 1]] <- list(
      variable = "alloc", method = m, test = t, tau2 = "common",
      call = sprintf('rma(yi, vi, mods=~alloc, data=dat, method="%s", test="%s", control=%s) (QM); same with mods=~alloc-1 (subgroup estimates)',
                     m, R_TEST[[t]], CONTROL),
      expected = list(
        levels = levs, k = as.numeric(table(bcg$alloc)[levs]), estimate = nums(cell$beta),
        se = nums(cell$se), ci_low = nums(cell$ci.lb), ci_high = nums(cell$ci.ub),
        tau2 = rep(num(res$tau2), length(levs)),
        q_between = num(res$QM), df_between = num(res$QMdf[1]), df2_between = num(res$QMdf[2]),
        pvalue_between = num(res$QMp)
      )
    )
  }
}

# ---- permutation tests, exact (deterministic) ----------------------------------------------------
small <- bcg[1:7, ]
perm_cases <- list()
perm_specs <- list(
  list(model = "ablat", formula = "~ ablat", method = "REML", test = "z"),
  list(model = "ablat", formula = "~ ablat", method = "REML", test = "knha"),
  list(model = "ablat", formula = "~ ablat", method = "DL", test = "z"),
  list(model = "ablat", formula = "~ ablat", method = "FE", test = "z"),
  list(model = "intercept", formula = NA, method = "REML", test = "z"),
  list(model = "intercept", formula = NA, method = "DL", test = "knha")
)
for (s in perm_specs) {
  if (is.na(s$formula)) {
    res <- rma(yi, vi, data = small, method = s$method, test = s$test, control = ctrl)
    fit_call <- sprintf('rma(yi, vi, data=dat[1:7,], method="%s", test="%s", control=%s)',
                        s$method, s$test, CONTROL)
  } else {
    res <- rma(yi, vi, mods = as.formula(s$formula), data = small, method = s$method, test = s$test,
               control = ctrl)
    fit_call <- sprintf('rma(yi, vi, mods=%s, data=dat[1:7,], method="%s", test="%s", control=%s)',
                        s$formula, s$method, s$test, CONTROL)
  }
  pt <- suppressWarnings(permutest(res, exact = TRUE, progbar = FALSE))
  perm_cases[[length(perm_cases) + 1]] <- list(
    model = s$model, rows = 1:7, method = s$method, test = s$test,
    call = paste0("permutest(", fit_call, ", exact=TRUE)"),
    expected = list(
      n_perm = num(pt$exact.iter), names = I(rownames(res$beta)), statistic = I(nums(res$zval)),
      pvalue = I(nums(pt$pval)), qm = num(res$QM), qm_pvalue = num(pt$QMp),
      n_failed = sum(is.na(pt$QM.perm))
    )
  )
}

out <- list(
  generated_by = "tests/reference/metafor_metareg.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  date = as.character(Sys.Date()),
  rma_control = CONTROL,
  preparation = PREP,
  methods = methods,
  tests = tests,
  models = vapply(models, function(m) m$name, ""),
  data = data_out,
  metareg = metareg_cases,
  no_intercept = noint_cases,
  subgroups = subgroup_cases,
  permutest = perm_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "with", length(metareg_cases), "meta-regression,", length(subgroup_cases),
    "subgroup and", length(perm_cases), "permutation cases\n")

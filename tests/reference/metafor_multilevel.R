# Reference values for tpmeta's multilevel (three-level) models, cluster-robust inference and
# correlated-effects RVE:
#
#   Rscript tests/reference/metafor_multilevel.R
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat, r-cran-clubsandwich,
# r-cran-robumeta and r-cran-jsonlite. Writes tests/reference/metafor_multilevel.json;
# tests/models/test_multilevel.py and tests/models/test_robust.py read it and never need R.
#
# Data (metadat): dat.konstantopoulos2011 (56 schools in 11 districts; random = ~ 1 | district/school)
# and dat.assink2016 (100 effects in 17 studies; random = ~ 1 | study/esid), plus the studies >= 13 of
# dat.assink2016, whose between-study variance sits on the boundary 0.
#
# rma.mv's default optimiser (nlminb on log sigma^2, rel.tol = 1e-10 on the log-likelihood) leaves the
# variance components accurate to ~1e-5 only (REML score ~1e-4 at its answer on dat.assink2016), and
# nlminb fails with rel.tol below 1e-10. The reference therefore uses nlm with a tight gradient
# tolerance (CONTROL below). How far each answer is from the exact maximum is measured here, not
# assumed: with dense k x k matrices, the (RE)ML score and Hessian at metafor's estimate give the
# Newton step to the stationary point, stored per case as `reference_newton_step` (max abs over the
# free, interior components). The exact call is stored with every case.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(clubSandwich)
  library(robumeta)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_multilevel.json")

CONTROL <- 'list(optimizer="nlm", gradtol=1e-10, steptol=1e-12, iterlim=1000)'
ctrl <- eval(parse(text = CONTROL))
num <- function(x) if (is.null(x) || length(x) == 0 || is.na(x)) NA_real_ else as.numeric(x)
nums <- function(x) I(as.numeric(x))
rows <- function(m) lapply(seq_len(nrow(m)), function(i) I(as.numeric(m[i, ])))

datasets <- list(
  konstantopoulos2011 = list(
    prep = "dat <- dat.konstantopoulos2011",
    data = dat.konstantopoulos2011, study = "district", inner = "school"),
  assink2016 = list(
    prep = "dat <- dat.assink2016",
    data = dat.assink2016, study = "study", inner = "esid"),
  assink2016_sub = list(
    prep = "dat <- dat.assink2016[dat.assink2016$study >= 13, ]",
    data = dat.assink2016[dat.assink2016$study >= 13, ], study = "study", inner = "esid")
)
data_out <- lapply(datasets, function(d) {
  x <- d$data
  out <- list(yi = nums(x$yi), vi = nums(x$vi), study = nums(x[[d$study]]), inner = nums(x[[d$inner]]),
              year = nums(x$year), prep = d$prep, study_column = d$study, inner_column = d$inner)
  if (!is.null(x$deltype)) out$deltype <- I(as.character(x$deltype))
  out
})

# ---- independent check of metafor's answer: dense (RE)ML score and Hessian ------------------------
# At sigma2, with V, P and Q (= P for REML, V^-1 for ML) as explicit k x k matrices:
# score_r = (y'P G_r P y - tr(Q G_r))/2, Hessian_rs = tr(Q G_r Q G_s)/2 - y'P G_r P G_s P y.
dense_derivs <- function(res, dat, study, s2) {
  y <- as.numeric(res$yi); X <- model.matrix(res); k <- length(y)
  G <- list(outer(dat[[study]], dat[[study]], "==") * 1, diag(k))
  V <- diag(res$vi) + s2[1] * G[[1]] + s2[2] * G[[2]]
  W <- solve(V); P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  Q <- if (res$method == "REML") P else W
  Py <- P %*% y
  g <- sapply(G, function(Gr) 0.5 * (c(t(Py) %*% Gr %*% Py) - sum(Q * Gr)))
  H <- matrix(0, 2, 2)
  for (r in 1:2) for (s in 1:2)
    H[r, s] <- 0.5 * sum(diag(Q %*% G[[r]] %*% Q %*% G[[s]])) - c(t(Py) %*% G[[r]] %*% P %*% G[[s]] %*% Py)
  list(g = g, H = H)
}
# Newton's method from metafor's estimate over the free, interior components: returns the stationary
# point and the length of the first step (how far metafor's answer is from it).
polish <- function(res, dat, study) {
  s2 <- res$sigma2
  free <- which(!res$vc.fix$sigma2 & s2 > 1e-8)
  first <- 0
  if (length(free) == 0) return(list(sigma2 = s2, step = 0))
  for (it in 1:50) {
    d <- dense_derivs(res, dat, study, s2)
    step <- solve(d$H[free, free, drop = FALSE], d$g[free])
    if (it == 1) first <- max(abs(step))
    s2[free] <- s2[free] - step
    if (max(abs(step)) <= 1e-15 * (1 + max(s2))) break
  }
  if (first > 1e-5) stop("metafor's estimate is not near a stationary point of the likelihood")
  list(sigma2 = s2, step = first)
}

i2_levels <- function(res) {  # metafor FAQ / Cheung (2014): sigma2 over total variance, typical v
  W <- diag(1 / res$vi); X <- model.matrix(res)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  100 * res$sigma2 / (sum(res$sigma2) + (res$k - res$p) / sum(diag(P)))
}

fit_case <- function(ds, method, mods, test, sigma2 = NULL) {
  d <- datasets[[ds]]; dat <- d$data
  random <- sprintf("~ 1 | %s/%s", d$study, d$inner)
  call_with <- function(s2) sprintf('rma.mv(yi, vi, %srandom = %s, data=dat, method="%s", test="%s"%s, control=%s)',
                                    if (is.null(mods)) "" else paste0("mods=", mods, ", "), random, method, test,
                                    if (is.null(s2)) "" else sprintf(", sigma2=c(%s)", paste(s2, collapse = ", ")),
                                    CONTROL)
  fit <- call_with(sigma2)
  res <- eval(parse(text = fit))  # the call stored is the call run
  pol <- polish(res, dat, d$study)
  # everything given sigma^2 from metafor at the polished sigma^2 (fixed); the fit statistics from the
  # free fit (the likelihood is stationary there, so the polish changes them by < 1e-12)
  at <- call_with(sprintf("%.17g", pol$sigma2))
  fixed <- eval(parse(text = at))
  list(res = res, fixed = fixed, polish = pol, dat = dat, study = d$study,
       call = paste0(d$prep, "; res <- ", fit, "; sigma2 <- polish(res) (Newton's method on the dense ",
                     "(RE)ML score, in this script); everything given sigma2 from ", at))
}

expected_of <- function(f) {
  res <- f$res; fx <- f$fixed
  fs <- res$fit.stats
  list(
    names = I(rownames(fx$beta)), coef = nums(fx$beta), se = nums(fx$se), statistic = nums(fx$zval),
    pvalue = nums(fx$pval), ci_low = nums(fx$ci.lb), ci_high = nums(fx$ci.ub), vcov = rows(fx$vb),
    sigma2 = nums(f$polish$sigma2), sigma2_metafor = nums(res$sigma2), sigma2_fixed = I(res$vc.fix$sigma2),
    qe = num(fx$QE), qe_df = fx$k - fx$p, qe_pvalue = num(fx$QEp),
    qm = num(fx$QM), qm_df = num(fx$QMdf[1]), qm_df2 = num(fx$QMdf[2]), qm_pvalue = num(fx$QMp),
    k = res$k, p = res$p, parms = res$parms, n_studies = res$s.nlevels[1], n_inner = res$s.nlevels[2],
    fit_ml = list(loglik = fs["ll", "ML"], deviance = fs["dev", "ML"], aic = fs["AIC", "ML"],
                  bic = fs["BIC", "ML"], aicc = fs["AICc", "ML"]),
    fit_reml = list(loglik = fs["ll", "REML"], deviance = fs["dev", "REML"], aic = fs["AIC", "REML"],
                    bic = fs["BIC", "REML"], aicc = fs["AICc", "REML"]),
    i2 = nums(i2_levels(fx)), i2_total = sum(i2_levels(fx)),
    reference_newton_step = f$polish$step
  )
}

specs <- list(
  list(name = "konst-REML", ds = "konstantopoulos2011", method = "REML", mods = NULL, columns = list(), test = "z"),
  list(name = "konst-ML", ds = "konstantopoulos2011", method = "ML", mods = NULL, columns = list(), test = "z"),
  list(name = "konst-REML-year-t", ds = "konstantopoulos2011", method = "REML", mods = "~ year",
       columns = list("year"), test = "t"),
  list(name = "assink-REML", ds = "assink2016", method = "REML", mods = NULL, columns = list(), test = "z"),
  list(name = "assink-ML", ds = "assink2016", method = "ML", mods = NULL, columns = list(), test = "z"),
  list(name = "assink-REML-deltype-t", ds = "assink2016", method = "REML", mods = "~ deltype",
       columns = list("deltype"), test = "t"),
  list(name = "assink-ML-year+deltype", ds = "assink2016", method = "ML", mods = "~ year + deltype",
       columns = list("year", "deltype"), test = "z"),
  list(name = "assink-REML-sigma2fixed", ds = "assink2016", method = "REML", mods = NULL, columns = list(),
       test = "z", sigma2 = c(NA, 0.05)),
  list(name = "assinksub-REML-boundary", ds = "assink2016_sub", method = "REML", mods = NULL,
       columns = list(), test = "z")
)
fits <- list()
ml_cases <- list()
for (s in specs) {
  f <- fit_case(s$ds, s$method, s$mods, s$test, s$sigma2)
  fits[[s$name]] <- f
  ml_cases[[length(ml_cases) + 1]] <- list(
    name = s$name, dataset = s$ds, method = s$method, test = s$test, columns = s$columns,
    sigma2 = if (is.null(s$sigma2)) NULL else I(ifelse(is.na(s$sigma2), NA_real_, s$sigma2)),
    call = f$call, expected = expected_of(f))
}

# ---- likelihood profiles and profile-likelihood intervals of sigma^2 ---------------------------------
profile_cases <- list()
for (nm in c("konst-REML", "assink-REML", "assink-ML")) {
  res <- fits[[nm]]$res
  for (comp in 1:2) {
    xlim <- c(0, 3 * res$sigma2[comp])
    pr <- profile(res, sigma2 = comp, xlim = xlim, steps = 7, progbar = FALSE, plot = FALSE)
    ci <- confint(res, sigma2 = comp, control = list(tol = 1e-12))
    profile_cases[[length(profile_cases) + 1]] <- list(
      name = nm, component = comp,
      call = sprintf("profile(res, sigma2=%d, xlim=c(%s), steps=7); confint(res, sigma2=%d, control=list(tol=1e-12)) for res = %s",
                     comp, paste(format(xlim, digits = 15), collapse = ", "), comp, fits[[nm]]$call),
      expected = list(values = nums(pr[[1]]), loglik = nums(pr$ll),
                      ci_low = num(ci$random[1, "ci.lb"]), ci_high = num(ci$random[1, "ci.ub"]),
                      estimate = num(ci$random[1, "estimate"])))
  }
}

# ---- clubSandwich: CR2 / CR0 with Satterthwaite degrees of freedom ------------------------------------
club_cases <- list()
club_specs <- list(
  list(fit = "konst-REML", type = "CR2"), list(fit = "konst-REML-year-t", type = "CR2"),
  list(fit = "assink-REML", type = "CR2"), list(fit = "assink-REML-deltype-t", type = "CR2"),
  list(fit = "assink-ML-year+deltype", type = "CR2"), list(fit = "assink-REML-deltype-t", type = "CR0"),
  list(fit = "assink-REML", type = "CR0"),
  list(fit = "assink-REML-deltype-t", type = "CR2", cluster = "study %/% 2")  # whole studies, 9 clusters
)
club_out <- function(res, cl, type, call, extra) {
  ct <- coef_test(res, vcov = type, cluster = cl, test = "Satterthwaite")
  ci <- conf_int(res, vcov = type, cluster = cl, level = 0.95, test = "Satterthwaite")
  vc <- vcovCR(res, cluster = cl, type = type)
  c(extra, list(type = type, call = call, expected = list(
    coef = nums(ct$beta), se = nums(ct$SE), statistic = nums(ct$tstat), df = nums(ct$df_Satt),
    pvalue = nums(ct$p_Satt), ci_low = nums(ci$CI_L), ci_high = nums(ci$CI_U),
    vcov = rows(as.matrix(vc)), n_clusters = nlevels(as.factor(cl)))))
}
for (s in club_specs) {
  f <- fits[[s$fit]]
  cl_expr <- if (is.null(s$cluster)) f$study else s$cluster
  cl <- eval(parse(text = cl_expr), envir = f$dat)
  call <- sprintf('coef_test(res, vcov="%s", cluster=with(dat, %s), test="Satterthwaite"); conf_int(res, vcov="%s", cluster=with(dat, %s), level=0.95) for res = res_at, the fit at the polished sigma2 of: %s',
                  s$type, cl_expr, s$type, cl_expr, f$call)
  # on the fit at the polished sigma^2 (see fit_case), so that the reference does not carry the
  # optimiser's error in sigma^2 into the sandwich
  club_cases[[length(club_cases) + 1]] <- club_out(f$fixed, cl, s$type, call,
                                                   list(fit = s$fit, model = "rma.mv", cluster = cl_expr))
}
# rma.uni (independent effects, tau^2 by REML) clustered by study
dat <- dat.assink2016
uni <- rma(yi, vi, mods = ~ year, data = dat, method = "REML",
           control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000))
club_cases[[length(club_cases) + 1]] <- club_out(
  uni, dat$study, "CR2",
  'dat <- dat.assink2016; res <- rma(yi, vi, mods=~year, data=dat, method="REML", control=list(threshold=1e-12, tol=1e-12, maxiter=10000)); coef_test(res, vcov="CR2", cluster=dat$study, test="Satterthwaite"); conf_int(res, vcov="CR2", cluster=dat$study)',
  list(fit = "assink-uni-REML-year", model = "rma.uni", columns = list("year"), dataset = "assink2016",
       tau2 = num(uni$tau2)))

# ---- robumeta: correlated-effects RVE ------------------------------------------------------------------
robu_cases <- list()
# (moderators: year only; deltype "covert" and pubstatus 0 occur in one or two studies, so their
# cluster-robust variances are degenerate: zero up to rounding)
robu_specs <- list(
  list(ds = "assink2016", formula = "yi ~ 1", columns = list(), rho = 0.8, small = TRUE),
  list(ds = "assink2016", formula = "yi ~ year", columns = list("year"), rho = 0.8, small = TRUE),
  list(ds = "assink2016", formula = "yi ~ year", columns = list("year"), rho = 0.8, small = FALSE),
  list(ds = "assink2016", formula = "yi ~ 1", columns = list(), rho = 0.5, small = TRUE),
  list(ds = "konstantopoulos2011", formula = "yi ~ year", columns = list("year"), rho = 0.8, small = TRUE),
  list(ds = "assink2016_sub", formula = "yi ~ 1", columns = list(), rho = 0.2, small = TRUE)
)
for (s in robu_specs) {
  d <- datasets[[s$ds]]; dat <- d$data
  dat$studynum <- dat[[d$study]]
  fit <- robu(as.formula(s$formula), data = dat, studynum = studynum, var.eff.size = vi,
              modelweights = "CORR", rho = s$rho, small = s$small)
  tab <- fit$reg_table
  # data.full is sorted by study; its row names put the weights back in the input order
  w <- numeric(nrow(dat)); w[match(rownames(fit$data.full), rownames(dat))] <- fit$data.full$r.weights
  robu_cases[[length(robu_cases) + 1]] <- list(
    dataset = s$ds, formula = s$formula, columns = s$columns, rho = s$rho, small = s$small,
    call = sprintf('%s; robu(%s, data=dat, studynum=%s, var.eff.size=vi, modelweights="CORR", rho=%s, small=%s)',
                   d$prep, s$formula, d$study, s$rho, s$small),
    expected = list(
      coef = nums(tab$b.r), se = nums(tab$SE), statistic = nums(tab$t), df = nums(tab$dfs),
      pvalue = nums(tab$prob), ci_low = nums(tab$CI.L), ci_high = nums(tab$CI.U),
      vcov = rows(as.matrix(fit$VR.r)), tau2 = num(fit$mod_info$tau.sq), i2 = num(fit$mod_info$I.2),
      term1 = num(fit$mod_info$term1), term2 = num(fit$mod_info$term2), weights = nums(w),
      n_studies = fit$N, k = fit$M))
}

out <- list(
  generated_by = "tests/reference/metafor_multilevel.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  clubsandwich_version = as.character(packageVersion("clubSandwich")),
  robumeta_version = as.character(packageVersion("robumeta")),
  date = as.character(Sys.Date()),
  rma_mv_control = CONTROL,
  data = data_out,
  multilevel = ml_cases,
  profiles = profile_cases,
  clubsandwich = club_cases,
  robumeta = robu_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(15), na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "with", length(ml_cases), "rma.mv,", length(profile_cases), "profile,",
    length(club_cases), "clubSandwich and", length(robu_cases), "robumeta cases\n")

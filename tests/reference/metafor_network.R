# Reference values from metafor for tpmeta's network meta-analysis (tpmeta.network_meta).
#
#   Rscript tests/reference/metafor_network.R
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite.
# Writes tests/reference/metafor_network.json; tests/models/test_network.py reads it and never needs R.
#
# Model (contrast-based consistency model, as in metafor's analysis examples for dat.senn2013 and
# dat.hasselblad1998): every trial contributes the contrasts of its arms against its baseline arm; the
# baseline is the arm whose treatment comes first in the order (reference, then the other treatments
# sorted by code point, sort(method = "radix")). Within-trial covariance of two contrasts sharing the
# baseline arm = that arm's variance component (Gleser & Olkin 2009; metafor's tests of
# dat.gleser2009): MD sd^2/n, OR 1/a + 1/b, RR 1/a - 1/n, RD p(1 - p)/n and for SMD
# 1/n_base + y_j y_k / (2 N), N the trial's total sample size. yi/vi come from escalc() on each
# (arm, baseline) pair. Zero cells: a trial with a zero (or n) event count in any arm gets 1/2 added to
# every cell of all its tables (escalc(add = 1/2, to = "all") on that trial's rows), else no correction.
#
#   FE:   rma.mv(yi, V, mods = ~ <treatment dummies> - 1, data = dat)
#   REML: rma.mv(yi, V, mods = ~ <treatment dummies> - 1, random = ~ comp | study, rho = 1/2,
#                data = dat, method = "REML")
#   DL:   no DL in rma.mv: tau2 = max(0, (Q - df) / tr(P0 R)) by hand (P0 the fixed-effect projection,
#         R the 1 / 0.5 correlation structure), cross-checked against netmeta's formula
#         (Ruecker 2012: all pairwise contrasts, multi-arm weights w_jk = d_j d_k / sum d, tau2 =
#         (Q - df) / tr((I - H) (B B' o E / 2) W)) implemented here; then rma.mv(..., tau2 = tau2).
#
# The REML tau2 of rma.mv (nlminb on log tau2, default controls) is also recomputed as the root of
# the REML score with explicit N x N matrices (uniroot, tol 1e-15) after a 4000-point scan of the
# restricted log-likelihood, so the JSON holds a value accurate to ~1e-12 beside metafor's.
#
# Design-by-treatment interaction (Higgins et al. 2012, White et al. 2012): the consistency model plus
# design-specific contrast parameters (one per design and non-baseline treatment, the columns that
# raise the rank kept), tau2 re-estimated in that model by the same method, Wald test of the added
# columns with anova(res, btt = ...). For FE the fixed-effect Q decomposition is stored too.
#
# Node-splitting (side-splitting, Dias et al. 2010, doi:10.1002/sim.3767): for the comparison A-B
# (A before B in the order) one column is added, 1 on the rows of treatment B in every trial that
# holds both A and B (B's arm is shifted there: A acts as the baseline of the split; see van Valkenhoef
# et al. 2016, doi:10.1002/jrsm.1167, on multi-arm trials). Split when the column raises the rank.
# Direct = d_AB + omega, indirect = d_AB, difference = omega, its Wald test; tau2 re-estimated in each
# split model by the same method.
#
# P-scores (Ruecker & Schwarzer 2015, doi:10.1186/s12874-015-0060-8) from the fit's coefficients and
# vcov, as metafor's dat.senn2013 example computes them: P_i = mean_j Phi((b_j - b_i) / se_ij) when
# small values are desirable, Phi((b_i - b_j) / se_ij) when large values are.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_network.json")

# metafor's default controls (nlminb on log tau2): its REML tau2 is within ~1e-7 of the score root
CONTROL <- "list()"
ctrl <- list()
nums <- function(x) I(as.numeric(x))

levels_of <- function(trt, ref) c(ref, sort(setdiff(unique(trt), ref), method = "radix"))

# ---- arm-level data -> contrasts against each trial's baseline arm + block-diagonal V ------------
contrasts_of <- function(arms, measure, lv) {
  rows <- list(); blocks <- list()
  for (s in unique(arms$study)) {
    a <- arms[arms$study == s, , drop = FALSE]
    a <- a[order(match(a$treatment, lv)), , drop = FALSE]
    b <- a[1, ]; t <- a[-1, , drop = FALSE]; m <- nrow(t)
    if (measure %in% c("OR", "RR", "RD")) {
      zero <- any(a$events == 0 | a$events == a$n)
      es <- escalc(measure = measure, ai = t$events, n1i = t$n, ci = rep(b$events, m), n2i = rep(b$n, m),
                   add = 1/2, to = if (zero) "all" else "none")
      e0 <- b$events + zero / 2; n0 <- b$n + zero
      comp <- switch(measure, OR = 1 / e0 + 1 / (n0 - e0), RR = 1 / e0 - 1 / n0,
                     RD = (e0 / n0) * (1 - e0 / n0) / n0)
      Vs <- matrix(comp, m, m); cov <- rep(comp, m)
    } else {
      es <- escalc(measure = measure, m1i = t$mean, sd1i = t$sd, n1i = t$n,
                   m2i = rep(b$mean, m), sd2i = rep(b$sd, m), n2i = rep(b$n, m))
      if (measure == "MD") {
        Vs <- matrix(b$sd^2 / b$n, m, m); cov <- rep(b$sd^2 / b$n, m)
      } else {
        Vs <- 1 / b$n + outer(as.numeric(es$yi), as.numeric(es$yi)) / (2 * sum(a$n)); cov <- rep(NA, m)
      }
    }
    diag(Vs) <- es$vi
    design <- paste(a$treatment, collapse = ":")
    rows[[length(rows) + 1]] <- data.frame(study = as.character(s), treatment = t$treatment,
                                           comparator = b$treatment, yi = as.numeric(es$yi),
                                           vi = as.numeric(es$vi), cov = cov, design = design,
                                           stringsAsFactors = FALSE)
    blocks[[length(blocks) + 1]] <- Vs
  }
  dat <- do.call(rbind, rows)
  dat$comp <- paste(dat$treatment, dat$comparator, sep = " vs ")
  list(dat = dat, V = bldiag(blocks))
}

add_dummies <- function(dat, lv) {
  cols <- make.names(lv[-1], unique = TRUE)
  for (j in seq_along(cols)) dat[[cols[j]]] <- (dat$treatment == lv[j + 1]) - (dat$comparator == lv[j + 1])
  attr(dat, "cols") <- cols
  dat
}

R_of <- function(dat) {
  same <- outer(dat$study, dat$study, "==")
  R <- 0.5 * same; diag(R) <- 1
  R
}

# ---- explicit-matrix quantities (independent of rma.mv) -----------------------------------------
proj <- function(S, X) {
  Si <- solve(S); A <- solve(crossprod(X, Si %*% X))
  Si - Si %*% X %*% A %*% t(X) %*% Si
}
reml_ll <- function(t2, y, X, V, R) {
  S <- V + t2 * R; P <- proj(S, X); Si <- solve(S)
  N <- length(y); p <- ncol(X)
  as.numeric(-0.5 * (N - p) * log(2 * pi) + 0.5 * determinant(crossprod(X))$modulus
             - 0.5 * determinant(S)$modulus - 0.5 * determinant(crossprod(X, Si %*% X))$modulus
             - 0.5 * t(y) %*% P %*% y)
}
reml_score <- function(t2, y, X, V, R) {
  P <- proj(V + t2 * R, X)
  as.numeric(t(y) %*% P %*% R %*% P %*% y - sum(diag(P %*% R)))
}
reml_exact <- function(y, X, V, R) {
  upper <- 20 * max(1, var(y))
  grid <- c(0, exp(seq(log(1e-8), log(upper), length.out = 3999)))
  ll <- vapply(grid, function(t) reml_ll(t, y, X, V, R), 0.0)
  j <- which.max(ll)
  if (j == 1 && reml_score(0, y, X, V, R) <= 0) return(0)
  lo <- grid[max(1, j - 1)]; hi <- grid[min(length(grid), j + 1)]
  uniroot(function(t) reml_score(t, y, X, V, R), c(lo, hi), tol = 1e-15, maxiter = 10000)$root
}
dl_tau2 <- function(y, X, V, R) {
  P0 <- proj(V, X)
  Q <- as.numeric(t(y) %*% P0 %*% y)
  max(0, (Q - (length(y) - qr(X)$rank)) / sum(diag(P0 %*% R)))
}
# netmeta's generalised DL on all pairwise contrasts with multi-arm weights (arm-additive measures)
dl_netmeta <- function(dat, V, lv) {
  trt <- character(0); TE <- numeric(0); w <- numeric(0); stud <- character(0); B <- NULL
  nt <- length(lv)
  for (s in unique(dat$study)) {
    idx <- which(dat$study == s)
    arms <- c(dat$comparator[idx[1]], dat$treatment[idx])
    eff <- c(0, dat$yi[idx])                        # arm effects relative to the baseline arm
    Vs <- V[idx, idx, drop = FALSE]
    # arm variance components: the shared (baseline) part and each contrast's remainder
    d <- if (length(idx) > 1) 1 / c(Vs[1, 2], diag(Vs) - Vs[1, 2]) else NULL
    if (is.null(d)) w <- c(w, 1 / Vs[1, 1])
    pairs <- t(combn(length(arms), 2))
    for (r in seq_len(nrow(pairs))) {
      j <- pairs[r, 1]; k <- pairs[r, 2]
      row <- numeric(nt); row[match(arms[j], lv)] <- 1; row[match(arms[k], lv)] <- -1
      B <- rbind(B, row); TE <- c(TE, eff[j] - eff[k]); stud <- c(stud, s)
      if (!is.null(d)) w <- c(w, d[j] * d[k] / sum(d))
    }
  }
  W <- diag(w); L <- t(B) %*% W %*% B
  Lplus <- solve(L + 1 / nt) - 1 / nt
  H <- B %*% Lplus %*% t(B) %*% W
  res <- TE - H %*% TE
  Q <- as.numeric(t(res) %*% W %*% res)
  narms <- table(dat$study) + 1
  df <- sum(narms - 1) - (nt - 1)
  E <- outer(stud, stud, "==")
  U <- (B %*% t(B)) * E / 2
  max(0, (Q - df) / sum(diag((diag(length(TE)) - H) %*% U %*% W)))
}

fit_call <- function(method, formula, extra = "") {
  switch(method,
    FE = sprintf("rma.mv(yi, V, mods = %s%s, data = dat)", formula, extra),
    REML = sprintf("rma.mv(yi, V, mods = %s%s, random = ~ comp | study, rho = 1/2, data = dat, method = \"REML\")",
                   formula, extra),
    DL = sprintf("rma.mv(yi, V, mods = %s%s, random = ~ comp | study, rho = 1/2, tau2 = <DL tau2 by hand>, data = dat)",
                 formula, extra))
}
fit_model <- function(method, dat, V, X, tau2 = NULL) {
  if (method == "FE") return(rma.mv(yi, V, mods = X, intercept = FALSE, data = dat, control = ctrl))
  if (method == "REML")
    return(rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, data = dat,
                  method = "REML", control = ctrl))
  rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, tau2 = tau2, data = dat,
         control = ctrl)
}
tau2_for <- function(method, dat, V, X, R) {
  if (method == "DL") dl_tau2(dat$yi, X, V, R) else NULL
}

pscores <- function(b, vb, small_good) {
  n <- length(b); P <- matrix(NA, n, n)
  for (i in 1:n) for (j in 1:n) if (i != j) {
    se <- sqrt(vb[i, i] + vb[j, j] - 2 * vb[i, j])
    P[i, j] <- if (small_good) pnorm((b[j] - b[i]) / se) else pnorm((b[i] - b[j]) / se)
  }
  rowMeans(P, na.rm = TRUE)
}

greedy_extra <- function(X, cand) {
  keep <- integer(0); cur <- X; r <- qr(X)$rank
  for (j in seq_len(ncol(cand))) {
    try <- cbind(cur, cand[, j]); rr <- qr(try)$rank
    if (rr > r) { keep <- c(keep, j); cur <- try; r <- rr }
  }
  cand[, keep, drop = FALSE]
}

run_case <- function(name, arms, measure, ref, methods, source, with_exact = TRUE) {
  lv <- levels_of(arms$treatment, ref)
  cc <- contrasts_of(arms, measure, lv)
  dat <- add_dummies(cc$dat, lv); V <- cc$V
  cols <- attr(dat, "cols")
  X <- as.matrix(dat[, cols, drop = FALSE]); colnames(X) <- cols
  R <- R_of(dat)
  formula <- paste("~", paste(cols, collapse = " + "), "- 1")
  p <- length(cols)
  out <- list(name = name, source = source, measure = measure, reference = ref, treatments = I(lv),
              arms = arms, contrasts = dat[, c("study", "treatment", "comparator", "yi", "vi", "cov", "design")],
              V = I(unname(V)), fits = list())
  # design-by-treatment columns: one per (design, non-baseline treatment)
  dkeys <- unique(paste(dat$design, dat$treatment, sep = "|"))
  Dfull <- sapply(dkeys, function(k) as.numeric(paste(dat$design, dat$treatment, sep = "|") == k))
  Dfull <- matrix(Dfull, nrow = nrow(dat))
  Z <- greedy_extra(X, Dfull)
  for (method in methods) {
    t2 <- tau2_for(method, dat, V, X, R)
    res <- fit_model(method, dat, V, X, t2)
    pr <- predict(res, newmods = diag(p))
    b <- c(0, as.numeric(coef(res))); vb <- rbind(0, cbind(0, vcov(res)))
    # league: every pair i < j (in the order lv), estimate of treatment i minus treatment j
    pairs <- t(combn(length(lv), 2))
    L <- t(apply(pairs, 1, function(ij) { x <- numeric(length(lv)); x[ij[1]] <- 1; x[ij[2]] <- -1; x[-1] }))
    pl <- predict(res, newmods = L)
    fit <- list(
      method = method, call = fit_call(method, formula),
      tau2 = as.numeric(res$tau2), qe = res$QE, qe_df = res$k - res$p, qe_pvalue = res$QEp,
      loglik_reml = if (method == "REML") as.numeric(logLik(res)) else NA,
      estimate = nums(coef(res)), se = nums(res$se), ci_low = nums(res$ci.lb), ci_high = nums(res$ci.ub),
      pi_low = nums(pr$pi.lb), pi_high = nums(pr$pi.ub), vcov = I(unname(vcov(res))),
      league = list(treatment = I(lv[pairs[, 1]]), comparator = I(lv[pairs[, 2]]), estimate = nums(pl$pred),
                    se = nums(pl$se), ci_low = nums(pl$ci.lb), ci_high = nums(pl$ci.ub),
                    pi_low = nums(pl$pi.lb), pi_high = nums(pl$pi.ub)),
      pscore_small_good = nums(pscores(b, vb, TRUE)), pscore_large_good = nums(pscores(b, vb, FALSE))
    )
    if (method == "DL") fit$tau2_dl_netmeta_formula <- if (measure == "SMD") NA else dl_netmeta(dat, V, lv)
    if (method == "REML" && with_exact) {
      t_ex <- reml_exact(dat$yi, X, V, R)
      fx <- rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, tau2 = t_ex,
                   data = dat, control = ctrl)
      fit$exact <- list(tau2 = t_ex, estimate = nums(coef(fx)), se = nums(fx$se),
                        loglik_reml = reml_ll(t_ex, dat$yi, X, V, R),
                        call = "uniroot(REML score, explicit N x N matrices, tol = 1e-15) after a 4000-point scan; then rma.mv(..., tau2 = root)")
    }
    # design-by-treatment interaction
    if (ncol(Z) > 0) {
      XZ <- cbind(X, Z)
      t2i <- tau2_for(method, dat, V, XZ, R)
      ri <- fit_model(method, dat, V, XZ, t2i)
      an <- anova(ri, btt = (p + 1):(p + ncol(Z)))
      fit$dbt <- list(qm = an$QM, df = ncol(Z), pvalue = an$QMp, tau2 = as.numeric(ri$tau2),
                      q_within = ri$QE, q_within_df = ri$k - ri$p, q_between = res$QE - ri$QE,
                      call = sprintf("res.inc <- %s (Z: design-by-treatment columns raising the rank); anova(res.inc, btt = %d:%d)",
                                     fit_call(method, "cbind(X, Z)", ", intercept = FALSE"), p + 1, p + ncol(Z)))
    }
    # node-splitting
    ns <- list()
    for (r in seq_len(nrow(pairs))) {
      A <- lv[pairs[r, 1]]; Bt <- lv[pairs[r, 2]]
      both <- tapply(seq_len(nrow(dat)), dat$study, function(ix) {
        tr <- c(dat$comparator[ix[1]], dat$treatment[ix]); A %in% tr && Bt %in% tr })
      studies <- names(both)[both]
      if (length(studies) == 0) next
      col <- as.numeric(dat$study %in% studies & dat$treatment == Bt)
      Xs <- cbind(X, split = col)
      if (qr(Xs)$rank <= qr(X)$rank) next
      t2s <- tau2_for(method, dat, V, Xs, R)
      rs <- fit_model(method, dat, V, Xs, t2s)
      e <- numeric(p); if (pairs[r, 2] > 1) e[pairs[r, 2] - 1] <- 1; if (pairs[r, 1] > 1) e[pairs[r, 1] - 1] <- -1
      pd <- predict(rs, newmods = rbind(c(e, 1), c(e, 0)))
      ns[[length(ns) + 1]] <- list(treatment = Bt, comparator = A, n_studies = length(studies),
                                   direct = pd$pred[1], direct_se = pd$se[1],
                                   indirect = pd$pred[2], indirect_se = pd$se[2],
                                   difference = as.numeric(coef(rs)[p + 1]), difference_se = rs$se[p + 1],
                                   pvalue = rs$pval[p + 1], tau2 = as.numeric(rs$tau2))
    }
    fit$node_split <- ns
    fit$node_split_call <- sprintf("res.split <- %s (split: 1 on treatment B's rows of the trials holding A and B); predict(res.split, newmods = rbind(c(e, 1), c(e, 0))) for direct and indirect, coef/se/pval of split for the difference",
                                   fit_call(method, "cbind(X, split)", ", intercept = FALSE"))
    out$fits[[length(out$fits) + 1]] <- fit
  }
  out
}

# ---- data --------------------------------------------------------------------------------------
senn <- with(dat.senn2013, data.frame(study = study, treatment = treatment, mean = mi, sd = sdi, n = ni,
                                      stringsAsFactors = FALSE))
hass <- with(dat.hasselblad1998, data.frame(study = as.character(study), treatment = trt, events = xi,
                                            n = ni, stringsAsFactors = FALSE))
dong <- with(dat.dong2013, data.frame(study = as.character(id), treatment = treatment, events = death,
                                      n = randomized, stringsAsFactors = FALSE))
woods <- with(dat.woods2010, data.frame(study = author, treatment = treatment, events = r, n = N,
                                        stringsAsFactors = FALSE))

# a simulated network: 10 treatments, 40 trials (8 three-arm), log odds ratios, tau = 0.2
set.seed(20240515)
trts <- LETTERS[1:10]
d_true <- c(0, seq(-0.5, 0.4, length.out = 9))
sim_rows <- list()
for (i in 1:40) {
  tr <- if (i <= 9) trts[c(i, i + 1)] else sample(trts, if (i %% 5 == 0) 3 else 2)
  base <- qlogis(runif(1, 0.15, 0.4))
  delta <- rnorm(length(tr), 0, 0.2 / sqrt(2))
  n <- sample(60:300, length(tr), replace = TRUE)
  p <- plogis(base + d_true[match(tr, trts)] + delta)
  sim_rows[[i]] <- data.frame(study = sprintf("S%02d", i), treatment = tr, events = rbinom(length(tr), n, p),
                              n = n, stringsAsFactors = FALSE)
}
sim <- do.call(rbind, sim_rows)

cases <- list(
  run_case("senn2013_MD", senn, "MD", "placebo", c("FE", "DL", "REML"), "metadat::dat.senn2013 (mi, sdi, ni)"),
  run_case("senn2013_SMD", senn, "SMD", "placebo", c("FE", "DL", "REML"), "metadat::dat.senn2013 (mi, sdi, ni)"),
  run_case("hasselblad1998_OR", hass, "OR", "no_contact", c("FE", "DL", "REML"), "metadat::dat.hasselblad1998 (xi, ni)"),
  run_case("dong2013_OR", dong, "OR", "Placebo", c("FE", "DL", "REML"), "metadat::dat.dong2013 (death, randomized)"),
  run_case("dong2013_RR", dong, "RR", "Placebo", c("FE", "REML"), "metadat::dat.dong2013 (death, randomized)"),
  run_case("hasselblad1998_RD", hass, "RD", "no_contact", c("FE", "DL", "REML"), "metadat::dat.hasselblad1998 (xi, ni)"),
  run_case("woods2010_OR", woods, "OR", "Placebo", c("FE", "DL"), "metadat::dat.woods2010 (r, N)"),
  run_case("sim40_OR", sim, "OR", "A", c("FE", "DL", "REML"), "simulated in this script (set.seed(20240515))")
)

out <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  control = CONTROL,
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(15), pretty = FALSE, na = "null", dataframe = "columns"),
           out_path)
cat("wrote", out_path, "\n")

# Reference values for tpmeta.pool_bayes, computed independently by adaptive quadrature in R.
#
#   Rscript tests/reference/bayes_reference.R      (or: make reference)
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite (bayesmeta is not
# used: it is not packaged for Debian, and its results carry the error of its mixture approximation).
# Writes tests/reference/bayes_reference.json; the tests read the JSON and never need R.
#
# Model: y_i ~ N(theta_i, v_i), theta_i ~ N(mu, tau^2), p(mu, tau) = p(mu) p(tau). Everything is
# computed from its definition with integrate() (rel.tol 1e-12, abs.tol 1e-15) over tau, split at multiples of the mode
# of tau * p(tau | y), and uniroot() (tol 1e-13) for quantiles:
#   p(y | tau)      uniform mu prior: prod_i N(y_i; m, v_i + tau^2) * sqrt(2 pi / A)      (Gaussian integral)
#                   normal mu prior : N_k(y; m0 1, diag(v + tau^2) + s0^2 1 1')           (Cholesky)
#   mu | tau, y     N(m, 1/A), A = sum w_i (+ 1/s0^2), m = (sum w_i y_i (+ m0/s0^2)) / A, w_i = 1/(v_i + tau^2)
#   theta_new       N(m, 1/A + tau^2)
#   theta_i | tau   N(y_i + B_i (m - y_i), B_i tau^2 + B_i^2 / A), B_i = v_i / (v_i + tau^2)
#   bf_tau0 = p(y) / p(y | tau = 0);  bf_mu0 = p(y) / p(y | mu = 0), p(y | mu = 0) by its own integral
# Intervals are equal-tailed. Quantities that do not exist (e.g. a log marginal likelihood under the
# improper uniform mu prior) are null.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "bayes_reference.json")

REL <- 1e-12
ROOT_TOL <- 1e-13

ABS <- 1e-15  # absolute tolerance of integrands normalised to O(1) (pieces of negligible mass)

integ <- function(f, lo, hi, brk, abs_tol = ABS) {
  pts <- sort(unique(c(lo, brk[brk > lo & brk < hi], hi)))
  total <- 0
  for (i in seq_len(length(pts) - 1)) {
    total <- total + integrate(f, pts[i], pts[i + 1], rel.tol = REL, abs.tol = abs_tol,
                               subdivisions = 5000L)$value
  }
  total
}

posterior <- function(y, v, tau_prior, mu_prior) {
  k <- length(y)
  lprior <- switch(tau_prior$kind,
    halfnormal = function(t) log(2) + dnorm(t, 0, tau_prior$scale, log = TRUE),
    halfcauchy = function(t) log(2) + dcauchy(t, 0, tau_prior$scale, log = TRUE),
    uniform = function(t) ifelse(t <= tau_prior$scale, -log(tau_prior$scale), -Inf),
    lognormal = function(t) ifelse(t > 0, dlnorm(pmax(t, 1e-300), tau_prior$mean / 2, tau_prior$sd / 2, log = TRUE), -Inf))
  upper <- if (tau_prior$kind == "uniform") tau_prior$scale else Inf
  normal_mu <- mu_prior$kind == "normal"
  cond <- function(t) {  # conditional moments of mu | tau, y (vectors over t)
    w <- 1 / outer(t^2, v, "+")
    a <- rowSums(w) + if (normal_mu) 1 / mu_prior$sd^2 else 0
    m <- (drop(w %*% y) + if (normal_mu) mu_prior$mean / mu_prior$sd^2 else 0) / a
    list(m = m, var = 1 / a)
  }
  loglik <- function(t) {
    sapply(t, function(tt) {
      s2 <- v + tt^2
      if (normal_mu) {
        L <- chol(diag(s2, k) + mu_prior$sd^2)
        r <- backsolve(L, y - mu_prior$mean, transpose = TRUE)
        -0.5 * k * log(2 * pi) - sum(log(diag(L))) - 0.5 * sum(r^2)
      } else {
        cm <- cond(tt)
        sum(dnorm(y, cm$m, sqrt(s2), log = TRUE)) + 0.5 * log(2 * pi) + 0.5 * log(cm$var)
      }
    })
  }
  lpost <- function(t) lprior(t) + loglik(t)
  # the mode of tau * p(tau | y) on a log grid, then polished
  grid <- exp(seq(log(1e-8 * max(sqrt(v), 1e-3)), log(1e4 * max(sqrt(v), abs(y), 1)), length.out = 4000))
  grid <- grid[grid <= upper]
  lg <- lpost(grid) + log(grid)
  i <- which.max(lg)
  opt <- optimize(function(u) -(lpost(exp(u)) + u), log(grid[max(i - 1, 1)]) + c(0, log(grid[min(i + 1, length(grid))] / grid[max(i - 1, 1)])))
  tb <- exp(opt$minimum)
  shift <- lpost(tb)
  brk <- tb * c(1e-4, 1e-3, 0.01, 0.1, 0.3, 0.6, 1, 1.5, 2.5, 4, 8, 20, 100, 1e3, 1e4)
  dens <- function(t) ifelse(is.finite(lprior(t)), exp(lpost(t) - shift), 0)
  z <- integ(dens, 0, upper, brk, ABS * tb)
  pdf <- function(t) dens(t) / z
  expect <- function(f) integ(function(t) f(t) * pdf(t), 0, upper, brk)
  mix_cdf <- function(x, sdfun) integ(function(t) { cm <- cond(t); pnorm(x, cm$m, sdfun(t, cm)) * pdf(t) }, 0, upper, brk)
  list(k = k, lprior = lprior, loglik = loglik, pdf = pdf, expect = expect, cond = cond, mix_cdf = mix_cdf,
       upper = upper, brk = brk, log_z = log(z) + shift, normal_mu = normal_mu, grid = grid)
}

quantile_of <- function(cdf, p, start, width) {
  lo <- start - width; hi <- start + width
  while (cdf(lo) > p) lo <- lo - 2 * width
  while (cdf(hi) < p) hi <- hi + 2 * width
  uniroot(function(x) cdf(x) - p, c(lo, hi), tol = ROOT_TOL, maxiter = 1000)$root
}

summarise <- function(y, v, tau_prior, mu_prior, level, mu_at, tau_at) {
  P <- posterior(y, v, tau_prior, mu_prior)
  a <- (1 - level) / 2
  mean_mu <- P$expect(function(t) P$cond(t)$m)
  var_mu <- P$expect(function(t) { cm <- P$cond(t); cm$var + (cm$m - mean_mu)^2 })
  sd_mu <- sqrt(var_mu)
  sd_cond <- function(t, cm) sqrt(cm$var)
  sd_pred <- function(t, cm) sqrt(cm$var + t^2)
  qmu <- sapply(c(0.5, a, 1 - a), function(p) quantile_of(function(x) P$mix_cdf(x, sd_cond), p, mean_mu, 3 * sd_mu))
  qpred <- sapply(c(a, 1 - a), function(p) quantile_of(function(x) P$mix_cdf(x, sd_pred), p, mean_mu, 3 * sd_mu))
  tau_cdf <- function(x) integ(P$pdf, 0, min(x, P$upper), P$brk)
  tau_hi <- P$brk[7]
  while (tau_hi < P$upper && tau_cdf(tau_hi) < 1 - a / 4) tau_hi <- min(2 * tau_hi, P$upper)
  qtau <- sapply(c(0.5, a, 1 - a), function(p) uniroot(function(x) tau_cdf(x) - p, c(0, tau_hi), tol = ROOT_TOL, maxiter = 1000)$root)
  # shrinkage
  theta <- lapply(seq_along(y), function(i) {
    cmi <- function(t) {
      cm <- P$cond(t)
      b <- v[i] / (v[i] + t^2)
      list(m = y[i] + b * (cm$m - y[i]), var = b * t^2 + b^2 * cm$var)
    }
    mn <- P$expect(function(t) cmi(t)$m)
    vr <- P$expect(function(t) { c2 <- cmi(t); c2$var + (c2$m - mn)^2 })
    cdf <- function(x) integ(function(t) { c2 <- cmi(t); pnorm(x, c2$m, sqrt(c2$var)) * P$pdf(t) }, 0, P$upper, P$brk)
    q <- sapply(c(0.5, a, 1 - a), function(p) quantile_of(cdf, p, mn, 3 * sqrt(vr)))
    c(mean = mn, sd = sqrt(vr), median = q[1], low = q[2], high = q[3])
  })
  theta <- do.call(rbind, theta)
  # evidence
  log_lik0 <- P$loglik(0)
  bf_mu0 <- NA_real_
  if (P$normal_mu) {
    # p(y | mu = 0) = int p(tau) prod N(y_i; 0, v_i + tau^2) dtau
    l0 <- function(t) sapply(t, function(tt) sum(dnorm(y, 0, sqrt(v + tt^2), log = TRUE)))
    s0 <- max(l0(P$grid) + P$lprior(P$grid))
    z0 <- integ(function(t) ifelse(is.finite(P$lprior(t)), exp(P$lprior(t) + l0(t) - s0), 0), 0, P$upper, P$brk, ABS * P$brk[7])
    bf_mu0 <- exp(P$log_z - (log(z0) + s0))
  }
  list(
    mu_median = qmu[1], mu_mean = mean_mu, mu_sd = sd_mu, mu_ci_low = qmu[2], mu_ci_high = qmu[3],
    tau_median = qtau[1], tau_ci_low = qtau[2], tau_ci_high = qtau[3],
    pred_low = qpred[1], pred_high = qpred[2],
    prob_mu_below_0 = P$mix_cdf(0, sd_cond),
    marginal_likelihood = if (P$normal_mu) P$log_z else NA_real_,
    bf_tau0 = exp(P$log_z - log_lik0), bf_mu0 = bf_mu0,
    theta_mean = I(theta[, "mean"]), theta_sd = I(theta[, "sd"]), theta_median = I(theta[, "median"]),
    theta_low = I(theta[, "low"]), theta_high = I(theta[, "high"]),  # I(): arrays even when k = 1
    mu_at = mu_at, mu_pdf = sapply(mu_at, function(x) P$expect(function(t) { cm <- P$cond(t); dnorm(x, cm$m, sqrt(cm$var)) })),
    mu_cdf = sapply(mu_at, function(x) P$mix_cdf(x, sd_cond)),
    tau_at = tau_at, tau_pdf = P$pdf(tau_at), tau_cdf = sapply(tau_at, tau_cdf)
  )
}

# ---- data ----------------------------------------------------------------------------------------
# Crins et al. (2014), Pediatr Transplant 18:839-850: acute rejection in paediatric liver transplantation,
# IL-2 receptor antagonists vs control; counts as tabulated in Roever (2020, doi:10.18637/jss.v093.i06,
# Sect. 3.2; data set CrinsEtAl2014 of the bayesmeta package). Not in metadat 1.2-0.
crins <- data.frame(
  publication = c("Heffron (2003)", "Gibelli (2004)", "Schuller (2005)", "Ganschow (2005)", "Spada (2006)", "Gras (2008)"),
  randomized = c("yes", "no", "no", "no", "yes", "no"),
  exp.AR.events = c(14, 16, 3, 9, 4, 0), exp.total = c(61, 28, 18, 54, 36, 50),
  cont.AR.events = c(15, 19, 8, 29, 11, 3), cont.total = c(20, 28, 12, 54, 36, 34))
crins_es <- escalc(measure = "OR", ai = exp.AR.events, n1i = exp.total, ci = cont.AR.events, n2i = cont.total,
                   data = crins)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
normand <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                  data = dat.normand1999)
# Rubin (1981) eight schools, as printed in Gelman et al., Bayesian Data Analysis (p. 143 of the 1997
# edition; data set Rubin1981 of bayesmeta); squared standard errors as variances.
schools <- list(y = c(28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16),
                se = c(14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6))

sets <- list(
  crins = list(prep = 'escalc(measure="OR", ai=exp.AR.events, n1i=exp.total, ci=cont.AR.events, n2i=cont.total) on the Crins et al. 2014 counts',
               y = as.numeric(crins_es$yi), v = as.numeric(crins_es$vi), labels = crins$publication),
  crins_randomized = list(prep = "the two randomised Crins et al. trials (Heffron 2003, Spada 2006): k = 2",
                          y = as.numeric(crins_es$yi[crins$randomized == "yes"]),
                          v = as.numeric(crins_es$vi[crins$randomized == "yes"]),
                          labels = crins$publication[crins$randomized == "yes"]),
  bcg = list(prep = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
             y = as.numeric(bcg$yi), v = as.numeric(bcg$vi), labels = paste(dat.bcg$author, dat.bcg$year)),
  bcg_k3 = list(prep = "first three trials of the dat.bcg RR set: k = 3",
                y = as.numeric(bcg$yi[1:3]), v = as.numeric(bcg$vi[1:3]), labels = paste(dat.bcg$author, dat.bcg$year)[1:3]),
  bcg_k1 = list(prep = "first trial of the dat.bcg RR set: k = 1", y = as.numeric(bcg$yi[1]), v = as.numeric(bcg$vi[1]),
                labels = paste(dat.bcg$author, dat.bcg$year)[1]),
  normand = list(prep = 'escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)',
                 y = as.numeric(normand$yi), v = as.numeric(normand$vi), labels = as.character(dat.normand1999$source)),
  schools = list(prep = "Rubin (1981) eight schools: effect, stderr^2", y = schools$y, v = schools$se^2, labels = LETTERS[1:8]),
  identical = list(prep = "constructed: identical effects", y = rep(0.2, 5), v = c(0.05, 0.02, 0.1, 0.03, 0.04), labels = NULL),
  tiny_huge_v = list(prep = "constructed: one very small and one very large sampling variance",
                     y = c(0.1, 0.5, 0.3, 0.8, 0.2, -0.4), v = c(1e-6, 0.05, 0.04, 0.06, 0.05, 1e4), labels = NULL)
)

hn <- function(s) list(kind = "halfnormal", scale = s)
hc <- function(s) list(kind = "halfcauchy", scale = s)
un <- function(s) list(kind = "uniform", scale = s)
ln <- function(m, s) list(kind = "lognormal", mean = m, sd = s)
flat <- list(kind = "uniform")
nrm <- function(m, s) list(kind = "normal", mean = m, sd = s)

cases <- list(
  list("crins", hn(0.5), nrm(0, 4), 0.95, "Roever 2020 ma01"),
  list("crins", hc(1.0), flat, 0.95, ""),
  list("crins", ln(-2.14, 1.74), nrm(0, 4), 0.95, "Roever 2020 ma02: Turner et al. surgical, pharmacological vs placebo / control"),
  list("crins_randomized", hn(0.5), nrm(0, 4), 0.95, "Roever 2020 ma05"),
  list("bcg", hn(0.5), flat, 0.95, ""),
  list("bcg", hc(0.5), nrm(0, 10), 0.90, ""),
  list("bcg", ln(-2.05, 1.71), flat, 0.95, "Turner et al. pain, non-pharmacological vs placebo / control"),
  list("bcg_k3", hc(0.5), flat, 0.95, "k = 3: the smallest k with a finite posterior SD of mu under a half-Cauchy prior"),
  list("bcg_k3", un(2), flat, 0.95, ""),
  list("bcg_k1", hn(0.5), flat, 0.95, "k = 1: p(tau | y) is the prior"),
  list("bcg_k1", hn(0.5), nrm(0, 1), 0.95, ""),
  list("normand", hn(1.0), flat, 0.95, ""),
  list("normand", un(5), nrm(0, 2), 0.95, ""),
  list("schools", hc(25), nrm(0, 50), 0.95, "bayesmeta vignette schools.example.1"),
  list("schools", un(1e4), flat, 0.95, "bayesmeta vignette schools.example.2 (improper uniform tau prior) approximated by uniform(0, 1e4)"),
  list("identical", hn(0.5), flat, 0.95, ""),
  list("tiny_huge_v", hn(0.5), flat, 0.95, ""),
  list("tiny_huge_v", hc(0.2), nrm(0.3, 1), 0.95, "")
)

py_prior <- function(p) switch(p$kind,
  lognormal = sprintf('tau_prior=("lognormal", %s, %s)', p$mean, p$sd),
  sprintf('tau_prior="%s", tau_scale=%s', p$kind, format(p$scale)))
py_mu <- function(p) if (p$kind == "normal") sprintf('mu_prior=("normal", %s, %s)', p$mean, p$sd) else 'mu_prior="uniform"'

out_cases <- list()
for (cs in cases) {
  ds <- sets[[cs[[1]]]]
  tau_prior <- cs[[2]]; mu_prior <- cs[[3]]; level <- cs[[4]]
  centre <- mean(ds$y); spread <- max(sqrt(ds$v[ds$v < 1]), sd(ds$y), 0.1, na.rm = TRUE)
  mu_at <- centre + spread * c(-1.5, -0.4, 0, 0.7)
  tau_at <- c(0.05, 0.3, 1.2) * (if (tau_prior$kind == "lognormal") 1 else min(tau_prior$scale, 5 * spread))
  call <- sprintf("pool_bayes(yi, vi, %s, %s, level=%s)", py_prior(tau_prior), py_mu(mu_prior), level)
  cat(cs[[1]], call, "\n")
  expected <- summarise(ds$y, ds$v, tau_prior, mu_prior, level, mu_at, tau_at)
  out_cases[[length(out_cases) + 1]] <- list(
    dataset = cs[[1]], preparation = ds$prep, note = cs[[5]], call = call,
    tau_prior = tau_prior, mu_prior = mu_prior, level = level,
    yi = I(ds$y), vi = I(ds$v), labels = if (is.null(ds$labels)) NULL else I(ds$labels), expected = expected)
}

out <- list(
  generated_by = "tests/reference/bayes_reference.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  method = sprintf("integrate(rel.tol=%g, abs.tol=%g relative to O(1) integrands) over tau split at multiples of the mode; uniroot(tol=%g)", REL, ABS, ROOT_TOL),
  cases = out_cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "\n")

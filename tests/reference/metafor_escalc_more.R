# Reference values from metafor::escalc for the effect measures beyond SMD/MD/RR/OR/RD, their
# variance types (vtype), the continuity correction (add/to) and drop00.
#
#   Rscript tests/reference/metafor_escalc_more.R      (or: make reference)
#
# Needs R with the Debian packages r-cran-metafor, r-cran-metadat and r-cran-jsonlite.
# Writes tests/reference/metafor_escalc_more.json, read by tests/models/test_effects_more.py (the tests
# never need R). Every case stores the exact escalc() call, the input columns it used and yi, vi
# (15 significant digits; NA as null).
#
# Data: published datasets from metadat, except
#   * Morris (2008, doi:10.1177/1094428106291059) pre-post data (SMCC, SMCR): metadat 1.2-0 has no
#     dat.morris2008, so the five studies (Carlson & Schmidt 1999) are typed in as printed by Morris
#     (2008) and on the metafor project page analyses:morris2008;
#   * hart1999_zero (IRR): dat.hart1999 with trial 3's events in group 1 set to 0 and both groups of
#     trial 4 set to 0, constructed to exercise add/to/drop00 (the published data have no zero counts).

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_path <- file.path(dirname(normalizePath(script)), "metafor_escalc_more.json")

datT <- data.frame(
  m_pre   = c(30.6, 23.5, 0.5, 53.4, 35.6),
  m_post  = c(38.5, 26.8, 0.7, 75.9, 36.0),
  sd_pre  = c(15.0, 3.1, 0.1, 14.5, 4.7),
  sd_post = c(11.6, 4.1, 0.1, 4.4, 4.6),
  ni      = c(20, 50, 9, 10, 14),
  ri      = c(0.47, 0.64, 0.77, 0.89, 0.44))
datC <- data.frame(
  m_pre   = c(23.1, 24.9, 0.6, 55.7, 34.8),
  m_post  = c(19.7, 25.3, 0.6, 60.7, 33.4),
  sd_pre  = c(13.8, 4.1, 0.2, 17.3, 3.1),
  sd_post = c(14.8, 3.3, 0.2, 17.9, 6.9),
  ni      = c(20, 42, 9, 11, 14),
  ri      = c(0.47, 0.64, 0.77, 0.89, 0.44))
hart1999_zero <- dat.hart1999
hart1999_zero$x1i[3] <- 0
hart1999_zero$x1i[4] <- 0
hart1999_zero$x2i[4] <- 0
yusuf6 <- subset(dat.yusuf1985, table == "6" & !is.na(ai))
li_tab <- data.frame(ai = dat.li2007$ai, bi = dat.li2007$n1i - dat.li2007$ai,
                     ci = dat.li2007$ci, di = dat.li2007$n2i - dat.li2007$ci)

cases <- list()
# dataset: name stored in the JSON; data: the frame; columns: escalc argument -> column of data
add_case <- function(dataset, measure, data, columns, options = list(), object = dataset) {
  arg_txt <- paste(sprintf("%s=%s", names(columns), unlist(columns)), collapse = ", ")
  fmt <- function(o) if (is.character(o)) sprintf('"%s"', o) else
    if (is.logical(o)) as.character(o) else format(o, digits = 15)
  opt_txt <- if (length(options)) paste0(", ", paste(sprintf("%s=%s", names(options),
    vapply(options, fmt, "")), collapse = ", ")) else ""
  call_text <- sprintf('escalc(measure="%s", %s, data=%s%s)', measure, arg_txt, object, opt_txt)
  es <- suppressWarnings(eval(parse(text = call_text)))
  inputs <- lapply(columns, function(col) as.numeric(data[[col]]))
  cases[[length(cases) + 1]] <<- list(
    dataset = dataset, measure = measure, call = call_text, options = options,
    inputs = inputs, yi = as.numeric(es$yi), vi = as.numeric(es$vi)
  )
}

# ---- ratio of means ------------------------------------------------------------------------------
rom <- list(m1i = "m1i", sd1i = "sd1i", n1i = "n1i", m2i = "m2i", sd2i = "sd2i", n2i = "n2i")
for (vt in c("LS", "HO", "AV", "AVHO")) {
  add_case("dat.curtis1998", "ROM", dat.curtis1998, rom, if (vt == "LS") list() else list(vtype = vt))
}

# ---- correlations --------------------------------------------------------------------------------
for (vt in c("LS", "AV")) {
  add_case("dat.molloy2014", "COR", dat.molloy2014, list(ri = "ri", ni = "ni"),
           if (vt == "LS") list() else list(vtype = vt))
}
add_case("dat.molloy2014", "ZCOR", dat.molloy2014, list(ri = "ri", ni = "ni"))

# ---- incidence rate ratio ------------------------------------------------------------------------
irr <- list(x1i = "x1i", t1i = "t1i", x2i = "x2i", t2i = "t2i")
add_case("dat.hart1999", "IRR", dat.hart1999, irr)
add_case("hart1999_zero", "IRR", hart1999_zero, irr)
add_case("hart1999_zero", "IRR", hart1999_zero, irr, list(add = 1, to = "all"))
add_case("hart1999_zero", "IRR", hart1999_zero, irr, list(to = "if0all"))
add_case("hart1999_zero", "IRR", hart1999_zero, irr, list(drop00 = TRUE))

# ---- proportions ---------------------------------------------------------------------------------
prop <- list(xi = "xi", ni = "ni")
for (ds in c("dat.pritz1997", "dat.debruin2009")) {
  d <- get(ds)
  for (vt in c("LS", "UB", "AV")) add_case(ds, "PR", d, prop, if (vt == "LS") list() else list(vtype = vt))
  for (vt in c("LS", "AV")) add_case(ds, "PLO", d, prop, if (vt == "LS") list() else list(vtype = vt))
  add_case(ds, "PAS", d, prop)
  add_case(ds, "PFT", d, prop)
}
# dat.pritz1997 has studies with xi = ni: the correction of PR/PLO (add=1/2 to only0), and its variants
add_case("dat.pritz1997", "PLO", dat.pritz1997, prop, list(to = "all"))
add_case("dat.pritz1997", "PLO", dat.pritz1997, prop, list(to = "if0all", add = 0.25))
add_case("dat.pritz1997", "PR", dat.pritz1997, prop, list(to = "none"))
add_case("dat.pritz1997", "PAS", dat.pritz1997, prop, list(add = 0.5))
add_case("dat.pritz1997", "PFT", dat.pritz1997, prop, list(add = 0.5, to = "all"))

# ---- pre-post: standardised mean change ----------------------------------------------------------
pp_c <- list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_post", sd2i = "sd_pre", ni = "ni", ri = "ri")
pp_r <- list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_pre", ni = "ni", ri = "ri")
for (ds in c("datT", "datC")) {
  d <- get(ds)
  for (vt in c("LS", "LS2")) {
    opt <- if (vt == "LS") list() else list(vtype = vt)
    add_case(ds, "SMCC", d, pp_c, opt)
    add_case(ds, "SMCR", d, pp_r, opt)
  }
}

# ---- Peto odds ratio and drop00 ------------------------------------------------------------------
bin <- list(ai = "ai", n1i = "n1i", ci = "ci", n2i = "n2i")
add_case("dat.yusuf1985[table 6]", "PETO", yusuf6, bin, object = "yusuf6")
add_case("dat.yusuf1985[table 6]", "PETO", yusuf6, bin, list(to = "none"), object = "yusuf6")
for (m in c("PETO", "OR", "RR", "RD")) {
  add_case("dat.yusuf1985[table 6]", m, yusuf6, bin, list(drop00 = TRUE), object = "yusuf6")
}
add_case("dat.yusuf1985[table 6]", "OR", yusuf6, bin, list(drop00 = TRUE, to = "if0all"), object = "yusuf6")
add_case("li_tab", "PETO", li_tab, list(ai = "ai", bi = "bi", ci = "ci", di = "di"))
add_case("dat.egger2001", "PETO", dat.egger2001, bin)

# ---- variance types of the measures tpmeta had before (RD, MD, SMD) ---------------------------------
cont <- list(m1i = "m1i", sd1i = "sd1i", n1i = "n1i", m2i = "m2i", sd2i = "sd2i", n2i = "n2i")
add_case("dat.normand1999", "MD", dat.normand1999, cont, list(vtype = "HO"))
add_case("dat.normand1999", "MD", dat.normand1999, cont, list(vtype = "UB"))
for (vt in c("UB", "LS2", "AV")) add_case("dat.normand1999", "SMD", dat.normand1999, cont, list(vtype = vt))
bcg <- list(ai = "tpos", bi = "tneg", ci = "cpos", di = "cneg")
for (vt in c("UB", "AV")) add_case("dat.bcg", "RD", dat.bcg, bcg, list(vtype = vt))
add_case("dat.yusuf1985[table 6]", "RD", yusuf6, bin, list(vtype = "AV"), object = "yusuf6")

out <- list(
  generated_by = "tests/reference/metafor_escalc_more.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  date = as.character(Sys.Date()),
  constructed = list(
    datT = "Morris (2008) treatment groups (typed in; not in metadat 1.2-0)",
    datC = "Morris (2008) control groups (typed in; not in metadat 1.2-0)",
    hart1999_zero = "dat.hart1999 with x1i[3] = 0 and x1i[4] = x2i[4] = 0",
    `dat.yusuf1985[table 6]` = 'subset(dat.yusuf1985, table == "6" & !is.na(ai))',
    li_tab = "dat.li2007 as a 2x2 table (bi = n1i - ai, di = n2i - ci)"
  ),
  escalc = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), out_path)
cat("wrote", out_path, "with", length(cases), "escalc cases\n")

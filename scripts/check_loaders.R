# CI: R loaders read the archive layout exactly (issue 13).
#   Rscript check_loaders.R BAG_DATA_DIR ARCHIVE_DIR
# Each table zip, read with readr::read_csv(zip) (all columns as text, so IDs stay
# exact), equals its CSV in the bag and holds nothing of the other table; read with
# data.table::fread, it has the same rows and the same IDs.
suppressMessages({ library(readr); library(data.table) })
args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[1]; archive_dir <- args[2]
text <- cols(.default = col_character())
read_bag <- function(pattern) {
  files <- sort(list.files(data_dir, pattern = pattern, full.names = TRUE))
  do.call(rbind, lapply(files, function(f) as.data.frame(read_csv(f, col_types = text, na = character()))))
}
zips <- sort(list.files(archive_dir, pattern = "\\.zip$", full.names = TRUE))
for (kind in c("users", "tweets")) {
  want <- read_bag(paste0("_", kind, "_csv_.*\\.csv$"))
  mine <- zips[grepl(paste0("_", kind, "_csv_"), basename(zips))]
  stopifnot(length(mine) >= 1)
  got_readr <- do.call(rbind, lapply(mine, function(z) as.data.frame(read_csv(z, col_types = text, na = character()))))
  got_dt <- do.call(rbind, lapply(mine, function(z) as.data.frame(fread(cmd = paste("unzip -p", shQuote(z)), colClasses = "character", na.strings = NULL))))
  stopifnot(identical(names(got_readr), names(want)), identical(names(got_dt), names(want)))
  stopifnot(nrow(got_readr) == nrow(want), nrow(got_dt) == nrow(want))
  stopifnot(isTRUE(all.equal(got_readr, want, check.attributes = FALSE)))
  # data.table 1.14 keeps the doubled quotes of some quoted text fields (its quote
  # rule is guessed from a sample), so its text is not compared; rows and every
  # ID column are.
  for (id in intersect(names(want), c("userid", "tweetid", "in_reply_to_tweetid", "in_reply_to_userid", "quoted_tweet_tweetid", "retweet_userid", "retweet_tweetid")))
    stopifnot(identical(got_dt[[id]], want[[id]]))
  if (kind == "users") stopifnot(!("tweetid" %in% names(got_readr)))
  cat(sprintf("R readr (values) and data.table (rows, IDs): %s: %d rows, %d columns, equal to the CSV\n", kind, nrow(want), ncol(want)))
}
cat("R loaders: 2 passed, 0 failed\n")

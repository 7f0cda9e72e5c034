// Text order by UTF-16 code units (for ASCII the order of Go's sort.Strings): what names,
// timestamps and flags need. String.prototype.localeCompare would make V8 load ICU's collation
// data for it (~3 MiB more resident memory for the process).

/** A comparator for Array.prototype.sort: a before b when a's code units sort first. */
export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

#!/bin/sh
# gen-pc.sh IN PREFIX PKGCONFIGDIR LIBDIR INCLUDEDIR DATADIR VERSION: writes
# sipflow-1.pc from IN on standard output, relocatable: when the .pc is
# installed under PREFIX, prefix is ${pcfiledir}/.. up to it and the other
# directories are relative to ${prefix}, so an SDK installed with DESTDIR, or
# moved, gives the right -I and -L without PKG_CONFIG_SYSROOT_DIR (which would
# also rewrite glib's paths).  A directory outside PREFIX stays absolute.
set -eu
in=$1 prefix=$2 pcdir=$3 libdir=$4 includedir=$5 datadir=$6 version=$7
rel() {
  case "$1" in
    "$prefix") echo '${prefix}' ;;
    "$prefix"/*) echo '${prefix}'"${1#"$prefix"}" ;;
    *) echo "$1" ;;
  esac
}
case "$pcdir" in
  "$prefix"/*) root='${pcfiledir}/'$(printf '%s\n' "${pcdir#"$prefix"/}" | sed 's|[^/][^/]*|..|g') ;;
  *) root=$prefix ;;
esac
sed -e "s|@prefix@|$root|" -e "s|@libdir@|$(rel "$libdir")|" -e "s|@includedir@|$(rel "$includedir")|" \
  -e "s|@datadir@|$(rel "$datadir")|" -e "s|@VERSION@|$version|" "$in"

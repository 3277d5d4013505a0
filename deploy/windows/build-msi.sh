#!/usr/bin/env bash
# Builds the Purser agent MSI for one architecture with wixl (Debian's
# msitools), from purser-agent.wxs:
#   deploy/windows/build-msi.sh <purser-agent.exe> <x64|x86> <version> <out.msi>
# version is the MSI ProductVersion, N.N.N. The ProductCode is derived from
# the architecture and version: the same version is the same product (an
# upgrade needs a higher version), and a rebuild does not install twice.
set -euo pipefail

die() { echo "build-msi.sh: $*" >&2; exit 1; }
[[ $# -eq 4 ]] || { echo "usage: build-msi.sh <purser-agent.exe> <x64|x86> <version N.N.N> <out.msi>" >&2; exit 2; }
exe=$1 arch=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
command -v wixl >/dev/null || die "wixl not found (apt-get install wixl)"
command -v msiinfo >/dev/null || die "msiinfo not found (apt-get install msitools)"

# ProductVersion: major and minor up to 255, build up to 65535.
if [[ ! $version =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,5})$ ]] ||
  ((10#${BASH_REMATCH[1]} > 255 || 10#${BASH_REMATCH[2]} > 255 || 10#${BASH_REMATCH[3]} > 65535)); then
  die "version '$version' is not an MSI ProductVersion (N.N.N, at most 255.255.65535)"
fi

# Component GUIDs differ per architecture: one GUID must always name the
# same file path (Program Files vs Program Files (x86)).
case $arch in
  x64) machine=6486 programfiles=ProgramFiles64Folder win64=yes exeguid=d47cf821-05aa-400a-aa55-24ca865d38b8 ;;
  x86) machine=4c01 programfiles=ProgramFilesFolder win64=no exeguid=d4b3ce11-33c4-4653-b43d-5216b904e03a ;;
  *) die "architecture '$arch': must be x64 or x86" ;;
esac

# The executable must be a Windows program for that architecture: a wrong
# one would install and never start. PE: "MZ", the PE header's offset at
# 0x3c, "PE\0\0" there, then the machine (amd64 0x8664, i386 0x014c).
[[ -f $exe ]] || die "$exe: no such file"
hexat() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
[[ $(hexat "$exe" 0 2) == 4d5a ]] || die "$exe is not a Windows executable (no MZ header)"
le=$(hexat "$exe" 60 4)
peoff=$((16#${le:6:2}${le:4:2}${le:2:2}${le:0:2}))
[[ $(hexat "$exe" "$peoff" 4) == 50450000 ]] || die "$exe is not a PE executable"
got=$(hexat "$exe" $((peoff + 4)) 2)
[[ $got == "$machine" ]] || die "$exe is not a $arch executable (PE machine bytes $got)"

# A name-based (SHA-1) UUID of the architecture and version.
h=$(printf 'purser-agent-msi/%s/%s' "$arch" "$version" | sha1sum | cut -c1-32)
variant=$(printf '%x' $(((16#${h:16:1} & 3) | 8)))
productcode="${h:0:8}-${h:8:4}-5${h:13:3}-${variant}${h:17:3}-${h:20:12}"

# wixl finds File/@Source relative to the working directory: stage the exe
# under the name it installs as.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$exe" "$stage/purser-agent.exe"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
(cd "$stage" && wixl -a "$arch" -o "$stage/out.msi" \
  -D Version="$version" -D Arch="$arch" -D ProductCode="$productcode" -D ProgramFiles="$programfiles" \
  -D Win64="$win64" -D ExeGuid="$exeguid" "$here/purser-agent.wxs") || die "wixl failed"

# Check what wixl wrote: the install and uninstall actions in place, the
# file in the right folder.
seq=$(msiinfo export "$stage/out.msi" InstallExecuteSequence | tr -d "\r")
seqno() { awk -F'\t' -v a="$1" '$1 == a { print $NF }' <<<"$seq"; }
for a in InstallInitialize RemoveFiles InstallFiles InstallFinalize PurserServiceUninstall PurserServiceInstall; do
  [[ -n $(seqno "$a") ]] || die "the MSI's InstallExecuteSequence lacks $a"
done
(($(seqno InstallInitialize) < $(seqno PurserServiceUninstall) && $(seqno PurserServiceUninstall) < $(seqno RemoveFiles))) ||
  die "PurserServiceUninstall is not between InstallInitialize and RemoveFiles"
(($(seqno InstallFiles) < $(seqno PurserServiceInstall) && $(seqno PurserServiceInstall) < $(seqno InstallFinalize))) ||
  die "PurserServiceInstall is not between InstallFiles and InstallFinalize"
msiinfo export "$stage/out.msi" Directory | tr -d "\r" | grep -q "^INSTALLDIR	$programfiles	Purser" ||
  die "the MSI does not install into [$programfiles]Purser"
msiinfo suminfo "$stage/out.msi" | grep -q "^Template: $( [[ $arch == x64 ]] && echo x64 || echo Intel);1033" ||
  die "the MSI's platform is not $arch"
mv "$stage/out.msi" "$out"
echo "built $out (Purser Agent $version, $arch, ProductCode {$productcode})"

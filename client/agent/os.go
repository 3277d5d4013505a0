package agent

import "runtime"

const isWindows = runtime.GOOS == "windows"

@echo off
rem Purser agent: GPO computer startup script (runs as SYSTEM at boot).
rem Installs the agent from a share when the PurserAgent service is absent,
rem and exits at once when it is there: like the guide's DeployMMA.cmd it can
rem run at every start, or as a daily scheduled task to repair drift.
rem
rem   purser-startup.cmd \\domain\NETLOGON\Purser server:7443 [proxy:port]
rem
rem The share holds purser-agent-x64.msi, purser-agent-x86.msi, ca.pem and
rem enroll-token.txt; Domain Computers need read access (the script reads it
rem as the computer account). It logs to %SystemRoot%\Temp\purser-startup.log
rem and msiexec to %SystemRoot%\Temp\purser-agent-msi.log.
setlocal
set "LOG=%SystemRoot%\Temp\purser-startup.log"

rem Installed already (sc query fails with 1060 when it is not).
sc query PurserAgent >nul 2>&1
if not errorlevel 1 exit /b 0

set "SHARE=%~1"
set "SERVER=%~2"
set "PROXY=%~3"
if "%SHARE%"=="" goto usage
if "%SERVER%"=="" goto usage

rem A 32-bit cmd on 64-bit Windows sees x86 in PROCESSOR_ARCHITECTURE.
set "ARCH=x86"
if /i "%PROCESSOR_ARCHITECTURE%"=="AMD64" set "ARCH=x64"
if /i "%PROCESSOR_ARCHITEW6432%"=="AMD64" set "ARCH=x64"
set "MSI=%SHARE%\purser-agent-%ARCH%.msi"

if not exist "%MSI%" (
  echo %DATE% %TIME% %MSI% is not reachable: trying again at the next start>>"%LOG%"
  exit /b 1
)
echo %DATE% %TIME% installing %MSI% for server %SERVER%>>"%LOG%"
start "" /wait msiexec /i "%MSI%" /qn /norestart /l*v "%SystemRoot%\Temp\purser-agent-msi.log" SERVER="%SERVER%" CAFILE="%SHARE%\ca.pem" TOKENFILE="%SHARE%\enroll-token.txt" PROXY="%PROXY%"
set "RC=%ERRORLEVEL%"
echo %DATE% %TIME% msiexec exit code %RC%; details in %SystemRoot%\Temp\purser-agent-msi.log and %ProgramData%\Purser\logs\setup.log>>"%LOG%"
rem 3010: installed, a restart is pending for something else.
if "%RC%"=="3010" exit /b 0
exit /b %RC%

:usage
echo %DATE% %TIME% usage: purser-startup.cmd \\server\share host:port [proxyhost:port]>>"%LOG%"
exit /b 2

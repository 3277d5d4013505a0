package sim

import (
	"fmt"
	"strings"

	pb "purserpb/v1"
)

// profile is a starting point for a simulated machine.
type profile struct {
	name         string
	product      pb.OsProduct
	version      string
	sp           int32
	edition      string
	arch         pb.Arch
	dotnet       string
	kbs          []string
	windefend    bool // Defender AV present and running
	mmaInstalled bool // already onboarded by hand
	// MMA installed, reporting to another team's workspace only (not Defender's).
	otherMma bool
}

var profiles = []profile{
	{name: "win7-sp1-x64-ent", product: pb.OsProduct_OS_PRODUCT_WINDOWS_7, version: "6.1.7601", sp: 1,
		edition: "Enterprise", arch: pb.Arch_ARCH_X64, dotnet: "3.5", windefend: true},
	{name: "win7-sp1-x86-pro", product: pb.OsProduct_OS_PRODUCT_WINDOWS_7, version: "6.1.7601", sp: 1,
		edition: "Professional", arch: pb.Arch_ARCH_X86, dotnet: "4.5.2", kbs: []string{"KB4074598"},
		windefend: true},
	{name: "win81-x64-ent", product: pb.OsProduct_OS_PRODUCT_WINDOWS_8_1, version: "6.3.9600", sp: 0,
		edition: "Enterprise", arch: pb.Arch_ARCH_X64, dotnet: "4.5.1", windefend: true},
	{name: "win81-x86-pro", product: pb.OsProduct_OS_PRODUCT_WINDOWS_8_1, version: "6.3.9600", sp: 0,
		edition: "Professional", arch: pb.Arch_ARCH_X86, dotnet: "4.5.1", windefend: true},
	{name: "win2008r2-sp1-x64", product: pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008_R2, version: "6.1.7601",
		sp: 1, edition: "Standard", arch: pb.Arch_ARCH_X64, dotnet: "3.5", windefend: false},
	{name: "win7-sp1-x64-ent-onboarded", product: pb.OsProduct_OS_PRODUCT_WINDOWS_7, version: "6.1.7601", sp: 1,
		edition: "Enterprise", arch: pb.Arch_ARCH_X64, dotnet: "4.8",
		kbs: []string{"KB4074598", "KB3080149", "KB4490628", "KB4474419"}, windefend: true, mmaInstalled: true},
	{name: "win7-sp1-x64-ent-other-mma", product: pb.OsProduct_OS_PRODUCT_WINDOWS_7, version: "6.1.7601", sp: 1,
		edition: "Enterprise", arch: pb.Arch_ARCH_X64, dotnet: "4.8",
		kbs: []string{"KB4074598", "KB3080149", "KB4490628", "KB4474419"}, windefend: true, otherMma: true},
	{name: "win10-x64-ent", product: pb.OsProduct_OS_PRODUCT_WINDOWS_10, version: "10.0.19045", sp: 0,
		edition: "Enterprise", arch: pb.Arch_ARCH_X64, dotnet: "4.8", windefend: true},
}

// ProfileNames are the names of the built-in profiles, e.g. "win7-sp1-x64-ent".
func ProfileNames() []string {
	out := make([]string, 0, len(profiles))
	for _, p := range profiles {
		out = append(out, p.name)
	}
	return out
}

// MakeProfile is a fresh machine of profile name called hostname.
func MakeProfile(name, hostname string) (*pb.SimMachine, error) {
	for _, p := range profiles {
		if name != p.name {
			continue
		}
		productType := pb.ProductType_PRODUCT_TYPE_WORKSTATION
		if p.product == pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008_R2 {
			productType = pb.ProductType_PRODUCT_TYPE_SERVER
		}
		windefend := pb.ServiceStatus_SERVICE_STATUS_NOT_INSTALLED
		if p.windefend {
			windefend = pb.ServiceStatus_SERVICE_STATUS_RUNNING
		}
		m := &pb.SimMachine{
			Profile: p.name,
			Inventory: &pb.Inventory{
				Hostname: hostname,
				Os: &pb.OsFacts{
					Product:     p.product,
					Version:     p.version,
					ServicePack: p.sp,
					Edition:     p.edition,
					Arch:        p.arch,
					ProductType: productType,
				},
				DotnetVersion: p.dotnet,
				InstalledKbs:  append([]string(nil), p.kbs...),
				Services:      []*pb.ServiceState{{Name: "windefend", Status: windefend}},
			},
			MmaInstalled: p.mmaInstalled,
		}
		if p.mmaInstalled || p.otherMma {
			id := "preexisting-workspace"
			if p.otherMma {
				id = "another-teams-log-analytics"
			}
			m.MmaInstalled = true
			m.Files = append(m.Files, MonitoringHost)
			m.Workspaces = append(m.Workspaces, &pb.SimWorkspace{Id: id, KeyPresent: true, Defender: !p.otherMma})
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown simulated profile \"%s\" (known: %s)", name, strings.Join(ProfileNames(), ", "))
}

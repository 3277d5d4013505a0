package windows

import (
	"fmt"

	pb "purserpb/v1"
)

// osProduct names the Windows product of an NT version and product type.
// Server and domain controller share a version number with a client
// release (6.1 is Windows 7 and Server 2008 R2): the type tells them apart.
func osProduct(major, minor uint32, t pb.ProductType) pb.OsProduct {
	server := t == pb.ProductType_PRODUCT_TYPE_SERVER || t == pb.ProductType_PRODUCT_TYPE_DOMAIN_CONTROLLER
	switch {
	case major == 6 && minor == 0 && server:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008
	case major == 6 && minor == 1 && server:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008_R2
	case major == 6 && minor == 1:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_7
	case major == 6 && minor == 2 && server:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2012
	case major == 6 && minor == 2:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_8
	case major == 6 && minor == 3 && server:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2012_R2
	case major == 6 && minor == 3:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_8_1
	case major == 10 && minor == 0 && !server:
		return pb.OsProduct_OS_PRODUCT_WINDOWS_10
	}
	return pb.OsProduct_OS_PRODUCT_OTHER // Vista, Server 2016+, ...
}

// productType maps OSVERSIONINFOEX.wProductType (VER_NT_WORKSTATION 1,
// VER_NT_DOMAIN_CONTROLLER 2, VER_NT_SERVER 3).
func productType(wProductType uint8) pb.ProductType {
	switch wProductType {
	case 1:
		return pb.ProductType_PRODUCT_TYPE_WORKSTATION
	case 2:
		return pb.ProductType_PRODUCT_TYPE_DOMAIN_CONTROLLER
	case 3:
		return pb.ProductType_PRODUCT_TYPE_SERVER
	}
	return pb.ProductType_PRODUCT_TYPE_UNSPECIFIED
}

// osArch maps SYSTEM_INFO.wProcessorArchitecture of the native system.
func osArch(processorArchitecture uint16) pb.Arch {
	switch processorArchitecture {
	case 9: // PROCESSOR_ARCHITECTURE_AMD64
		return pb.Arch_ARCH_X64
	case 0: // PROCESSOR_ARCHITECTURE_INTEL
		return pb.Arch_ARCH_X86
	}
	return pb.Arch_ARCH_UNSPECIFIED // Itanium, ARM: no MMA for them
}

// ntVersion is "major.minor.build", as the inventory reports it.
func ntVersion(major, minor, build uint32) string {
	return fmt.Sprintf("%d.%d.%d", major, minor, build)
}

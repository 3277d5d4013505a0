package windows

import (
	"testing"

	pb "purserpb/v1"
)

func TestOSProduct(t *testing.T) {
	ws, srv, dc := pb.ProductType_PRODUCT_TYPE_WORKSTATION, pb.ProductType_PRODUCT_TYPE_SERVER, pb.ProductType_PRODUCT_TYPE_DOMAIN_CONTROLLER
	cases := []struct {
		major, minor uint32
		t            pb.ProductType
		want         pb.OsProduct
	}{
		{6, 1, ws, pb.OsProduct_OS_PRODUCT_WINDOWS_7},
		{6, 1, srv, pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008_R2},
		{6, 1, dc, pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008_R2},
		{6, 3, ws, pb.OsProduct_OS_PRODUCT_WINDOWS_8_1},
		{6, 3, srv, pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2012_R2},
		{6, 2, ws, pb.OsProduct_OS_PRODUCT_WINDOWS_8},
		{6, 2, srv, pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2012},
		{6, 0, srv, pb.OsProduct_OS_PRODUCT_WINDOWS_SERVER_2008},
		{6, 0, ws, pb.OsProduct_OS_PRODUCT_OTHER}, // Vista
		{10, 0, ws, pb.OsProduct_OS_PRODUCT_WINDOWS_10},
		{10, 0, srv, pb.OsProduct_OS_PRODUCT_OTHER},
		{5, 1, ws, pb.OsProduct_OS_PRODUCT_OTHER},
	}
	for _, c := range cases {
		if got := osProduct(c.major, c.minor, c.t); got != c.want {
			t.Errorf("%d.%d %s: got %s, want %s", c.major, c.minor, c.t, got, c.want)
		}
	}
}

func TestProductTypeAndArch(t *testing.T) {
	if productType(1) != pb.ProductType_PRODUCT_TYPE_WORKSTATION || productType(2) != pb.ProductType_PRODUCT_TYPE_DOMAIN_CONTROLLER ||
		productType(3) != pb.ProductType_PRODUCT_TYPE_SERVER || productType(0) != pb.ProductType_PRODUCT_TYPE_UNSPECIFIED {
		t.Error("productType disagrees with VER_NT_*")
	}
	if osArch(9) != pb.Arch_ARCH_X64 || osArch(0) != pb.Arch_ARCH_X86 || osArch(6) != pb.Arch_ARCH_UNSPECIFIED {
		t.Error("osArch disagrees with PROCESSOR_ARCHITECTURE_*")
	}
	if got := ntVersion(6, 1, 7601); got != "6.1.7601" {
		t.Errorf("ntVersion = %s", got)
	}
}

/* test_compute_xml.c — the libvirt XML the agent writes (domain, RBD disks,
 * <iotune>, secret) parsed back, connection_info checks, metadata and
 * capabilities parsing, disk target choice, and the KVM probe's boot sector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cephkey.h"
#include "domain_xml.h"
#include "hvprobe.h"

#define ID "0f2e5b8a-6c1d-4e7f-9a3b-2d4c6e8f0a1b"
#define VOL "6a1d1c3e-5b2f-4c8d-9e0f-1a2b3c4d5e6f"

static json_t *conn_info(void)
{
    return json_pack("{s:s, s:{s:s, s:[s,s], s:[s,s], s:b, s:s, s:s, s:s, s:s, s:b, "
                     "s:{s:s, s:i}, s:s}}",
                     "driver_volume_type", "rbd", "data", "name", "strata.volumes/volume-" VOL,
                     "hosts", "10.0.0.1", "fd00::2", "ports", "6789", "3300", "auth_enabled", 1,
                     "auth_username", "strata-computed", "secret_type", "ceph", "secret_uuid",
                     "5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51", "volume_id", VOL, "discard", 1,
                     "qos_specs", "total_iops_sec", "500", "read_bytes_sec", 1048576,
                     "access_mode", "rw");
}

static void test_disk_from_connection_info(void **state)
{
    json_t *ci = conn_info();
    struct dx_disk d;
    char msg[DX_MSG_MAX] = "", *xml = NULL;

    (void)state;
    assert_int_equal(dx_disk_from_connection_info(ci, &d, msg), 0);
    assert_string_equal(d.name, "strata.volumes/volume-" VOL);
    assert_string_equal(d.auth_user, "strata-computed");
    assert_string_equal(d.serial, VOL);
    assert_false(d.readonly);
    d.target = "vdb";
    assert_int_equal(dx_disk_xml(&d, &xml), 0);
    assert_non_null(strstr(xml, "<source protocol=\"rbd\" name=\"strata.volumes/volume-" VOL "\">"));
    assert_non_null(strstr(xml, "<host name=\"fd00::2\" port=\"3300\"/>"));
    assert_non_null(strstr(xml, "cache=\"none\""));
    assert_non_null(strstr(xml, "discard=\"unmap\""));
    assert_non_null(strstr(xml, "<target dev=\"vdb\" bus=\"virtio\"/>"));
    assert_non_null(strstr(xml, "<secret type=\"ceph\" uuid=\"5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51\"/>"));
    assert_non_null(strstr(xml, "<total_iops_sec>500</total_iops_sec>"));
    assert_non_null(strstr(xml, "<read_bytes_sec>1048576</read_bytes_sec>"));
    assert_non_null(strstr(xml, "<serial>" VOL "</serial>"));
    free(xml);
    json_decref(ci);
}

static void test_connection_info_refused(void **state)
{
    struct dx_disk d;
    char msg[DX_MSG_MAX];
    struct {
        const char *path, *json, *why;
    } cases[] = {
        { NULL, "{\"driver_volume_type\": \"iscsi\", \"data\": {}}", "rbd" },
        { NULL, "{\"driver_volume_type\": \"rbd\"}", "data" },
        { NULL, "{\"driver_volume_type\": \"rbd\", \"data\": {\"name\": \"nopool\"}}", "pool/image" },
        { NULL, "{\"driver_volume_type\": \"rbd\", \"data\": {\"name\": \"p/i\", \"hosts\": [\"a\"],"
                " \"ports\": []}}", "equal-length" },
        { NULL, "{\"driver_volume_type\": \"rbd\", \"data\": {\"name\": \"p/i\", \"hosts\": [\"a\"],"
                " \"ports\": [\"1\"], \"auth_enabled\": true}}", "auth_username" },
        { NULL, "{\"driver_volume_type\": \"rbd\", \"data\": {\"name\": \"p/i\", \"hosts\": [\"a\"],"
                " \"ports\": [\"1\"], \"qos_specs\": {\"total_iops_sec\": \"1e3\"}}}", "total_iops_sec" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ci = json_loads(cases[i].json, 0, NULL);
        assert_non_null(ci);
        msg[0] = '\0';
        assert_int_equal(dx_disk_from_connection_info(ci, &d, msg), -EINVAL);
        if (!strstr(msg, cases[i].why))
            fail_msg("case %zu: \"%s\" does not mention %s", i, msg, cases[i].why);
        json_decref(ci);
    }
}

static void test_domain_xml_round_trip(void **state)
{
    json_t *ci = conn_info(), *hosts = json_pack("[s]", "127.0.0.1"), *ports = json_pack("[s]", "6789");
    json_t *disks = NULL;
    struct dx_disk vol;
    char msg[DX_MSG_MAX], *xml = NULL;
    struct dx_meta m;

    (void)state;
    assert_int_equal(dx_disk_from_connection_info(ci, &vol, msg), 0);
    vol.target = "vdb";
    struct dx_guest g = {
        .id = ID, .name = "web <1> & \"friends\"", .project_id = "p-1", .host = "h1",
        .cluster = "c0ffee00-0000-4000-8000-000000000001",
        .flavor = "m1.tiny", .vcpus = 2, .ram_mb = 512, .virt_type = "qemu",
        .console_path = "/var/lib/strata/compute/console/" ID ".log",
        .root = { .name = "strata.vms/" ID "_disk", .hosts = hosts, .ports = ports,
                  .auth_user = "strata-computed",
                  .secret_uuid = "5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51", .target = "vda" },
        .volumes = &vol, .nvolumes = 1,
    };
    assert_int_equal(dx_domain_xml(&g, &xml), 0);
    assert_non_null(strstr(xml, "<domain type=\"qemu\">"));
    assert_non_null(strstr(xml, "<name>strata-" ID "</name>"));
    assert_non_null(strstr(xml, "<uuid>" ID "</uuid>"));
    assert_non_null(strstr(xml, "<title>web &lt;1&gt; &amp; "));   /* escaped by libxml2 */
    assert_non_null(strstr(xml, "<memory unit=\"MiB\">512</memory>"));
    assert_non_null(strstr(xml, "<vcpu>2</vcpu>"));
    assert_non_null(strstr(xml, "<entry name=\"uuid\">" ID "</entry>"));
    assert_non_null(strstr(xml, "<smbios mode=\"sysinfo\"/>"));
    assert_non_null(strstr(xml, "<serial type=\"file\">"));
    assert_null(strstr(xml, "host-model"));   /* TCG: no host CPU model */
    assert_int_equal(dx_meta_parse(xml, &m), 0);
    assert_string_equal(m.id, ID);
    assert_string_equal(m.host, "h1");
    assert_string_equal(m.project_id, "p-1");
    assert_string_equal(m.cluster, "c0ffee00-0000-4000-8000-000000000001");
    assert_int_equal(dx_disks_parse(xml, &disks), 0);
    assert_int_equal(json_array_size(disks), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(disks, 0), "name")),
                        "strata.vms/" ID "_disk");
    assert_string_equal(json_string_value(json_object_get(json_array_get(disks, 1), "serial")), VOL);
    json_decref(disks);
    free(xml);

    g.virt_type = "kvm";
    assert_int_equal(dx_domain_xml(&g, &xml), 0);
    assert_non_null(strstr(xml, "<cpu mode=\"host-model\"/>"));
    free(xml);
    g.vcpus = 0;
    assert_int_equal(dx_domain_xml(&g, &xml), -EINVAL);
    json_decref(ci);
    json_decref(hosts);
    json_decref(ports);
}

static void test_meta_and_caps(void **state)
{
    struct dx_meta m;
    char model[64], arch[16];

    (void)state;
    /* as virDomainGetMetadata returns it: no namespace */
    assert_int_equal(dx_meta_parse("<instance>\n  <id>" ID "</id>\n  <name>t</name>\n  <project>p"
                                   "</project>\n  <host>h2</host>\n</instance>", &m), 0);
    assert_string_equal(m.id, ID);
    assert_string_equal(m.host, "h2");
    assert_int_equal(dx_meta_parse("<instance/>", &m), -EINVAL);
    assert_int_equal(dx_meta_parse("not xml", &m), -EINVAL);
    assert_int_equal(dx_meta_parse(NULL, &m), -EINVAL);
    assert_int_equal(dx_caps_cpu("<capabilities><host><cpu><arch>x86_64</arch><model>Skylake</model>"
                                 "</cpu></host></capabilities>", model, sizeof(model), arch,
                                 sizeof(arch)), 0);
    assert_string_equal(model, "Skylake");
    assert_string_equal(arch, "x86_64");
}

static void test_next_target(void **state)
{
    json_t *used = json_pack("[s,s,s]", "vda", "vdb", "vdd");
    char t[8];

    (void)state;
    assert_int_equal(dx_next_target(used, t, sizeof(t)), 0);
    assert_string_equal(t, "vdc");
    json_array_clear(used);
    for (char c = 'a'; c <= 'z'; c++) {
        char n[8] = { 'v', 'd', c, 0 };
        json_array_append_new(used, json_string(n));
    }
    assert_int_equal(dx_next_target(used, t, sizeof(t)), -ENOSPC);
    json_decref(used);
}

static void test_secret_xml(void **state)
{
    char *xml = NULL;

    (void)state;
    assert_int_equal(dx_secret_xml("5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51", "strata-computed", &xml), 0);
    assert_non_null(strstr(xml, "private=\"yes\""));
    assert_non_null(strstr(xml, "<usage type=\"ceph\">"));
    assert_non_null(strstr(xml, "client.strata-computed"));
    free(xml);
}

static void test_probe_sector(void **state)
{
    (void)state;
    assert_int_equal(hv_probe_sector[510], 0x55);
    assert_int_equal(hv_probe_sector[511], 0xaa);
    /* mov si, imm16 points at the marker, which is NUL-terminated */
    unsigned addr = hv_probe_sector[7] | (unsigned)hv_probe_sector[8] << 8;
    assert_int_equal(hv_probe_sector[6], 0xbe);
    assert_true(addr >= 0x7c00 && addr < 0x7c00 + 510);
    assert_memory_equal(hv_probe_sector + (addr - 0x7c00), HV_PROBE_MARKER, strlen(HV_PROBE_MARKER));
}

static void test_cephkey_decode(void **state)
{
    unsigned char key[CEPHKEY_MAX];
    size_t len = 0;

    (void)state;
    /* a cephx key: 28 bytes (type, created, 16-byte secret) in base64 */
    assert_int_equal(cephkey_decode("AQBzVhBnAAAAABAAQo0tHbRf7dPXw0t4/uq8+Q==", key, &len), 0);
    assert_int_equal(len, 28);
    assert_int_equal(key[0], 1);
    assert_int_equal(cephkey_decode("not base64!", key, &len), -EINVAL);
    assert_int_equal(cephkey_decode("", key, &len), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_from_connection_info),
        cmocka_unit_test(test_connection_info_refused),
        cmocka_unit_test(test_domain_xml_round_trip),
        cmocka_unit_test(test_meta_and_caps),
        cmocka_unit_test(test_next_target),
        cmocka_unit_test(test_secret_xml),
        cmocka_unit_test(test_probe_sector),
        cmocka_unit_test(test_cephkey_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

// Generated once from this machine's /etc/passwd and /etc/group (names and ids only) so the
// pure core resolves --uid-owner / --gid-owner names and prints them as getpwuid/getgrgid do.

const USERS: ReadonlyArray<readonly [string, number]> = [["root", 0], ["daemon", 1], ["bin", 2], ["sys", 3], ["sync", 4], ["games", 5], ["man", 6], ["lp", 7], ["mail", 8], ["news", 9], ["uucp", 10], ["proxy", 13], ["www-data", 33], ["backup", 34], ["list", 38], ["irc", 39], ["_apt", 42], ["nobody", 65534], ["cloudsdk", 1000], ["systemd-network", 998], ["systemd-timesync", 997], ["messagebus", 100], ["polkitd", 996], ["postgres", 101]];
const GROUPS: ReadonlyArray<readonly [string, number]> = [["root", 0], ["daemon", 1], ["bin", 2], ["sys", 3], ["adm", 4], ["tty", 5], ["disk", 6], ["lp", 7], ["mail", 8], ["news", 9], ["uucp", 10], ["man", 12], ["proxy", 13], ["kmem", 15], ["dialout", 20], ["fax", 21], ["voice", 22], ["cdrom", 24], ["floppy", 25], ["tape", 26], ["sudo", 27], ["audio", 29], ["dip", 30], ["www-data", 33], ["backup", 34], ["operator", 37], ["list", 38], ["irc", 39], ["src", 40], ["shadow", 42], ["utmp", 43], ["video", 44], ["sasl", 45], ["plugdev", 46], ["staff", 50], ["games", 60], ["users", 100], ["nogroup", 65534], ["cloudsdk", 1000], ["_ssh", 101], ["systemd-journal", 999], ["systemd-network", 998], ["systemd-timesync", 997], ["messagebus", 102], ["polkitd", 996], ["ssl-cert", 103], ["postgres", 104]];

export function userId(name: string): number | undefined {
  return USERS.find(([n]) => n === name)?.[1];
}
export function userName(id: number): string | undefined {
  return USERS.find(([, i]) => i === id)?.[0];
}
export function groupId(name: string): number | undefined {
  return GROUPS.find(([n]) => n === name)?.[1];
}
export function groupName(id: number): string | undefined {
  return GROUPS.find(([, i]) => i === id)?.[0];
}

// The connector and fault CIDRs answer contains() for an IPv4 string by comparing numbers, and
// exactly as ip-cidr does for every address: the boundaries of each range, IPv6 and IPv4-mapped
// addresses, leading zeros, and what is not an address at all.
import t from 'tap'
import IPCIDR from 'ip-cidr'
import { Cidr } from '../../src/config/world.js'

const CIDRS = [
  '127.0.0.0/8',
  '10.0.0.5/24',
  '192.168.1.7/32',
  '0.0.0.0/0',
  '255.255.255.255/32',
  '172.16.0.0/12',
  '1.2.3.4/31',
  '::1/128',
  '2001:db8::/32',
  '::ffff:10.0.0.0/104',
]
const ADDRESSES = [
  '127.0.0.1',
  '126.255.255.255',
  '128.0.0.0',
  '10.0.0.0',
  '10.0.0.255',
  '10.0.1.0',
  '192.168.1.7',
  '192.168.1.8',
  '0.0.0.0',
  '255.255.255.255',
  '172.31.255.255',
  '172.32.0.0',
  '1.2.3.5',
  '1.2.3.6',
  '::1',
  '::ffff:10.0.0.1',
  '::ffff:127.0.0.1',
  '2001:db8::1',
  '010.0.0.1',
  '256.1.1.1',
  '1.2.3',
  'junk',
  '',
]

t.test('Cidr.contains answers as ip-cidr does, address by address', async (t) => {
  const differ: string[] = []
  for (const c of CIDRS)
    for (const a of ADDRESSES) if (new Cidr(c).contains(a) !== new IPCIDR(c).contains(a)) differ.push(`${c} ${a}`)
  t.same(differ, [])
  t.ok(new Cidr('127.0.0.0/8').contains('127.1.2.3'))
  t.notOk(new Cidr('10.0.0.0/24').contains('10.0.1.1'))
  t.ok(new Cidr('10.0.0.0/24').contains(IPCIDR.createAddress('10.0.0.9')), 'an address object: ip-cidr answers')
})

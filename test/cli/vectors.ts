// The reference decrypt vectors (the cross-platform token CP-1, DV-1…DV-5) and their keys, for the CLI's
// offline tests.
export const CP1 =
  "AIAAAACkOqJj9VoxXJNnuX3v-ymceRf8_Av0vA5asOj9YBZJc1kV1vHdmb0AIjlzWnFF-gxIlgXqhRFhPo3iXpugPBl3gv4GKnGkw-Zgm2QqMsDPPLpMCYiWrIUqHPm8hQiq9PuTU-Ba9xecRsSIAN0WCwKLwA_EDVdzmnLJu64dQoeYmuu3u1G2EuTkuMrevmP98tJqSUePKwnfK73-0Zdshw"
export const DV1 =
  "AgAAAKQBAgMEBQYHCAkKCwwNDg8QNLHGclRo8ETfefov4UbNxcVaC3peJGzIaf0rbr1qKyJgfNymw/8fajTdfitbpap1IcS9vZghYf04PqDkwYAeSgiq3/z+EYtOR8YyrOz18vQF0UPTOEtxg7qrHB/3GV+6X08vfS8re5dVsBrPWx3oYg=="
export const DV2 =
  "A3AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU++WuzEEBSAZrtGrH89+VdrnOPLn5J9Olx/D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z1rXvNbGbhEMI6af8YmVMEVtwt37jftynfz5Z7ECoNsWCm8ZrOKxX8v9ZTs7F03r42mTLGmXNf/zdScaY/TtVYQiUuERIC5QsLXxgjprsRfvg=="
export const DV3 =
  "A4AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU--WuzEEBSAZrtGrH89-VdrnOPLn5J9Olx_D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z1rXvNbGbhEMI6af8YmVMEVtwt37jftynfz5Z7ECoNsWCm8ZrOKxX8v9ZTs7F03r42mTLGmXNf_zdScaY_TtVYQiUuERIC5QsLXxgjprsRfvg"
export const DV3_STANDARD =
  "A4AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU++WuzEEBSAZrtGrH89+VdrnOPLn5J9Olx/D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z1rXvNbGbhEMI6af8YmVMEVtwt37jftynfz5Z7ECoNsWCm8ZrOKxX8v9ZTs7F03r42mTLGmXNf/zdScaY/TtVYQiUuERIC5QsLXxgjprsRfvg=="
export const DV4 =
  "F4AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU--WuzEEBSAZrtGrH89-VdrnOPLn5J9Olx_D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z5rXvNbGbhEMI6af8YmVMEVeEPeJF_vbjN-Q-Pynxld99r8ezwETUF9rolwTgqkdnjj3-wTtDuZv9iD0K4iLipI66nS-e6iy9IFWZBG9xkdsJw"
export const DV5 =
  "A4AAAACkUFFSU1RVVldYWVpbrpuoa0hT4yLCHgbl2WnNb7M2hmm7l34tMLP8Gb1PYmXvRil4PcVLH4L9NQwTrNyq1S6xO_yzcDcrlI6tRlLBHJBHmbVZDNjTvIKki11CgiH5bTGK2Q4f9NuQWW49OmJaZxg9Jbtl2EOQkrDOIZv6RZl4Q3L3KXLjj9s51soeKvsG9R2Fu9jW8y-iDsizb-EeaQ"

export const EXAMPLE_UID = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
export const PHONE_UID = "BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"

/** "generated + 29 min", when the reference SDK decrypts DV-1…DV-5. */
export const DV_NOW = 1672536601000
/** When DV-5 was made (its "now"). */
export const DV5_ENCRYPTED_AT = 1672534861000
/** DV-5 decrypts at this time; one second past its expiry is DV5_EXPIRED. */
export const DV5_NOW = 1672534862000
export const DV5_EXPIRED = 1675126862000

const keys = [
  {
    id: 164,
    keyset_id: 1,
    created: 1672448461,
    activates: 1672534861,
    expires: 2303254861,
    secret: "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs="
  },
  {
    id: 165,
    keyset_id: 99999,
    created: 1671670861,
    activates: 1672448461,
    expires: 2303254861,
    secret: "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U="
  }
]

/** The sharing key JSON of DV-5, exactly as the checklist gives it (wrapped in `body`). */
export const DV5_KEYS = {
  body: {
    caller_site_id: 9000,
    master_keyset_id: 1,
    default_keyset_id: 99999,
    token_expiry_seconds: "2592000",
    identity_scope: "UID2",
    allow_clock_skew_seconds: 1800,
    max_sharing_lifetime_seconds: 2592010,
    keys
  }
}

/** The same keys without a lifetime limit (the body alone, no wrapper). */
export const UNLIMITED_KEYS = {
  caller_site_id: 9000,
  master_keyset_id: 1,
  default_keyset_id: 99999,
  token_expiry_seconds: 2592000,
  identity_scope: "UID2",
  keys
}

/** An EUID bidstream response over the same keys, with site 9000's domains. */
export const EUID_BIDSTREAM_KEYS = {
  body: {
    identity_scope: "EUID",
    allow_clock_skew_seconds: 1800,
    keys: keys.map(({ keyset_id: _, ...key }) => key),
    site_data: [{ id: 9000, domain_names: ["example.com", "example.org"] }]
  }
}

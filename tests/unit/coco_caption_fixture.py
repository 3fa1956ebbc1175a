"""Ten images with 3-5 reference captions each and one predicted caption each, written for the caption-metric
tests (varied length, punctuation, contractions, brackets, repeats, a prediction with no overlap)."""

REFERENCES = {
    "1": ["A man riding a wave on top of a surfboard.", "A surfer rides a large wave in the ocean.",
          "A person on a surfboard riding a wave.", "Man surfing on a big blue wave!"],
    "2": ["Two dogs play with a red ball in the grass.", "Two brown dogs chase a ball on a lawn.",
          "A pair of dogs playing in a grassy yard."],
    "3": ["A plate of food with broccoli, rice and chicken.", "Chicken and rice with steamed broccoli on a plate.",
          "A white plate topped with meat, rice, and vegetables.", "A healthy meal: chicken, broccoli & rice.",
          "Dinner plate with chicken (grilled), rice and greens."],
    "4": ["A red double-decker bus driving down a city street.", "A double decker bus on the street.",
          "The red bus is driving past tall buildings."],
    "5": ["A cat sleeping on a laptop keyboard.", "A cat is lying on top of an open laptop.",
          "The cat's asleep on the computer; it doesn't care."],
    "6": ["A group of people flying kites on a beach.", "Several kites fly over a sandy beach.",
          "People on the beach are flying colorful kites.", "Kites in the sky above a crowded beach."],
    "7": ["A kitchen with wooden cabinets and a white stove.", "A small kitchen with a stove, sink and cabinets.",
          "Wooden cabinets line the walls of a kitchen."],
    "8": ["A giraffe standing next to a tall tree.", "A giraffe eats leaves from a tree in a zoo.",
          "A tall giraffe near some trees.", "One giraffe standing in its enclosure near trees."],
    "9": ["A baseball player swinging a bat at a ball.", "A batter swings at the pitch during a game.",
          "A baseball player is about to hit the ball."],
    "10": ["A bowl of fruit on a wooden table.", "Apples, bananas and oranges in a bowl.",
           "A wooden table with a bowl full of fruit.", "Fresh fruit sits in a white bowl on the table..."],
}

PREDICTIONS = {
    "1": "A man riding a wave on a surfboard.",
    "2": "Two dogs playing with a ball in the grass.",
    "3": "A plate of chicken, rice and broccoli.",
    "4": "A red bus driving down the street.",
    "5": "A cat lying on a laptop.",
    "6": "People flying kites on the beach.",
    "7": "A kitchen with a stove and a sink.",
    "8": "A giraffe standing next to a tree.",
    "9": "A man holding a umbrella in the rain.",
    "10": "A bowl of fruit on a table, isn't it?",
}
